#!/bin/sh
# invoice-viewer.sh - payload of the corpus drive-by download page.  It is
# only ever saved (not run) by the browser: the saved file is the finding.
echo "this is a test payload of the Capture corpus"
