/*
 * selftest.h - capture-client --self-test: does this kernel give the
 * sensor what it needs?  Says plainly what is missing.
 */
#ifndef CAPTURE_SELFTEST_H
#define CAPTURE_SELFTEST_H

#include <stdio.h>

/* Prints one line per feature to OUT; returns 0 if everything required is there, else 3. */
int selftest_run(FILE *out);

#endif
