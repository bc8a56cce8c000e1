/*
 * progress.c - see progress.h.
 */
#include "server/progress.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

#define DRAW_INTERVAL_NS 250000000ull
#define TABLE_URL_WIDTH  60

struct progress_row {
	char *url;
	char verdict[64];
	size_t events;
	double seconds;
};

struct progress {
	FILE *out;
	bool tty;
	bool shown; /* the status line is on the screen */
	uint64_t start_ns, last_draw_ns;
	uint64_t total, visiting, benign, malicious, errors, retries;
	uint64_t reverts, inactivity, stalled;
	double sum_revert, sum_visit, sum_first;
	uint64_t n_visit, n_first;
	struct progress_row rows[PROGRESS_TABLE_MAX];
	size_t nrows;
	uint64_t rows_dropped;
};

static void hide(void *arg)
{
	struct progress *p = arg;

	if (p->shown) {
		fputs("\r\033[K", p->out);
		fflush(p->out);
		p->shown = false;
	}
}

static void show(void *arg)
{
	progress_draw(arg, true);
}

struct progress *progress_new(FILE *out, bool tty)
{
	struct progress *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->out = out;
	p->tty = tty;
	p->start_ns = util_now_mono_ns();
	if (tty)
		log_set_hooks(hide, show, p);
	return p;
}

void progress_free(struct progress *p)
{
	if (!p)
		return;
	if (p->tty) {
		log_set_hooks(NULL, NULL, NULL);
		hide(p);
	}
	for (size_t i = 0; i < p->nrows; i++)
		free(p->rows[i].url);
	free(p);
}

void progress_set_total(struct progress *p, uint64_t total)
{
	p->total = total;
}

void progress_visiting(struct progress *p, int delta)
{
	if (delta < 0 && p->visiting < (uint64_t)-delta)
		p->visiting = 0;
	else
		p->visiting += (uint64_t)(int64_t)delta;
	progress_draw(p, false);
}

static void add_row(struct progress *p, const char *url, const char *verdict, size_t events,
		    double seconds)
{
	struct progress_row *r;

	if (p->nrows == PROGRESS_TABLE_MAX) {
		p->rows_dropped++;
		return;
	}
	r = &p->rows[p->nrows];
	r->url = util_escape_dup(url, strlen(url));
	if (!r->url) {
		p->rows_dropped++;
		return;
	}
	snprintf(r->verdict, sizeof(r->verdict), "%s", verdict);
	r->events = events;
	r->seconds = seconds;
	p->nrows++;
}

void progress_url_done(struct progress *p, const char *url, enum output_verdict verdict,
		       const char *error_name, size_t events, double visit_s, double first_change_s)
{
	char v[64];

	if (verdict == OUTPUT_MALICIOUS)
		p->malicious++;
	else if (verdict == OUTPUT_BENIGN)
		p->benign++;
	else
		p->errors++;
	if (verdict == OUTPUT_VERDICT_ERROR)
		snprintf(v, sizeof(v), "error:%s", error_name ? error_name : "UNKNOWN");
	else
		snprintf(v, sizeof(v), "%s", outputs_verdict_name(verdict));
	if (visit_s >= 0) {
		p->sum_visit += visit_s;
		p->n_visit++;
	}
	if (first_change_s >= 0) {
		p->sum_first += first_change_s;
		p->n_first++;
	}
	add_row(p, url, v, events, visit_s);
	if (!p->tty)
		log_info("%s %s (%zu events, %.1f s)", v, url, events, visit_s);
	progress_draw(p, true);
}

void progress_retry(struct progress *p)
{
	p->retries++;
}

void progress_revert(struct progress *p, double seconds)
{
	p->reverts++;
	p->sum_revert += seconds;
}

void progress_client_inactivity(struct progress *p)
{
	p->inactivity++;
}

void progress_vm_stalled(struct progress *p)
{
	p->stalled++;
}

uint64_t progress_done(const struct progress *p)
{
	return p->benign + p->malicious + p->errors;
}

static double avg(double sum, uint64_t n)
{
	return n ? sum / (double)n : 0.0;
}

void progress_stats(const struct progress *p, struct output_stats *s)
{
	double days = (double)(util_now_mono_ns() - p->start_ns) / 86400e9;

	memset(s, 0, sizeof(*s));
	s->visiting = p->visiting;
	s->visited = p->benign + p->malicious;
	s->safe = p->benign;
	s->malicious = p->malicious;
	s->url_error = p->errors;
	s->vm_revert = p->reverts;
	s->client_inactivity = p->inactivity;
	s->vm_stalled = p->stalled;
	s->avg_revert_time = avg(p->sum_revert, p->reverts);
	s->avg_visiting_time = avg(p->sum_visit, p->n_visit);
	s->avg_first_state_change_time = avg(p->sum_first, p->n_first);
	s->visited_urls_per_day = days > 0 ? (uint64_t)((double)s->visited / days) : 0;
}

void progress_format(const struct progress *p, char *buf, size_t len)
{
	double mins = (double)(util_now_mono_ns() - p->start_ns) / 60e9;
	uint64_t done = progress_done(p), left = p->total > done ? p->total - done : 0;
	double rate = mins > 0 ? (double)done / mins : 0;
	char eta[32] = "--:--:--";

	if (rate > 0 && done > 0) {
		uint64_t s = (uint64_t)((double)left / rate * 60);

		snprintf(eta, sizeof(eta), "%llu:%02llu:%02llu", (unsigned long long)(s / 3600),
			 (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60));
	}
	snprintf(buf, len,
		 "visited %llu/%llu  visiting %llu  benign %llu  malicious %llu  errors %llu  "
		 "%.1f URLs/min  ETA %s",
		 (unsigned long long)done, (unsigned long long)p->total,
		 (unsigned long long)p->visiting, (unsigned long long)p->benign,
		 (unsigned long long)p->malicious, (unsigned long long)p->errors, rate, eta);
}

void progress_draw(struct progress *p, bool force)
{
	uint64_t now = util_now_mono_ns();
	char line[256];

	if (!p->tty || (!force && now - p->last_draw_ns < DRAW_INTERVAL_NS))
		return;
	progress_format(p, line, sizeof(line));
	fprintf(p->out, "\r\033[K%s", line);
	fflush(p->out);
	p->shown = true;
	p->last_draw_ns = now;
}

void progress_print_summary(struct progress *p)
{
	char line[256];

	hide(p);
	if (p->nrows) {
		fprintf(p->out, "\n%-*s  %-32s %7s %8s\n", TABLE_URL_WIDTH, "URL", "VERDICT",
			"EVENTS", "SECONDS");
		for (size_t i = 0; i < p->nrows; i++) {
			const struct progress_row *r = &p->rows[i];
			bool cut = strlen(r->url) > TABLE_URL_WIDTH;
			int w = cut ? TABLE_URL_WIDTH - 3 : TABLE_URL_WIDTH;

			fprintf(p->out, "%-*.*s%s  %-32s %7zu %8.1f\n", w, w, r->url,
				cut ? "..." : "", r->verdict, r->events, r->seconds);
		}
		if (p->rows_dropped)
			fprintf(p->out, "(%llu more URLs: see log/progress.log)\n",
				(unsigned long long)p->rows_dropped);
	}
	progress_format(p, line, sizeof(line));
	fprintf(p->out, "\n%s  retries %llu  reverts %llu\n", line, (unsigned long long)p->retries,
		(unsigned long long)p->reverts);
	fflush(p->out);
}
