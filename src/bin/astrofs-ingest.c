/*
 * astrofs-ingest — load telemetry files into an astrofs archive.
 *
 *   astrofs-ingest --archive DIR [--create] [--replace] [--bad-times FILE] [FILE…]
 *   astrofs-ingest --archive DIR --dump
 *
 * A missing archive is refused unless --create: a mistyped DIR would
 * otherwise become a new, empty archive and the samples would land where
 * no mount serves them.
 * Each FILE (CSV msid,time,value[,quality][,unit] or MAST JWST EDB JSON) is one
 * transaction: stored whole or not at all.  Exit status: 0 every file stored
 * or already present, 1 some file rejected, 2 usage, 3 the archive failed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/astro.h"
#include "telemetry/tlm_archive.h"
#include "telemetry/tlm_fmt.h"
#include "telemetry/tlm_time.h"

#define EXIT_REJECTED 1
#define EXIT_USAGE 2
#define EXIT_ARCHIVE 3

/* The progress bar of one file on a terminal. */
struct bar {
	const char *name;
	int k, n;
	int64_t t0, last;
	uint64_t bytes;
	int drawn;
};

#define BAR_W 24

/* "[k/n] name  42% [##########------]  61.3 MB/s  1.52 M samples  ETA 0:12" */
static void bar_draw(void *arg, double frac, uint64_t samples)
{
	struct bar *b = arg;
	int64_t now = astro_mono_ms();
	double s = (double)(now - b->t0) / 1000.0, eta;
	char cells[BAR_W + 1];
	int fill;

	if (now - b->last < 100)
		return;	/* at most ten redraws a second */
	b->last = now;
	b->drawn = 1;
	frac = frac < 0 ? 0 : frac > 1 ? 1 : frac;
	fill = (int)(frac * BAR_W + 0.5);
	memset(cells, '#', (size_t)fill);
	memset(cells + fill, '-', (size_t)(BAR_W - fill));
	cells[BAR_W] = '\0';
	eta = frac > 0.005 ? s * (1 - frac) / frac : -1;
	fprintf(stderr, "\r[%d/%d] %s %3d%% [%s] %6.1f MB/s %6.2f M samples  ETA ", b->k, b->n,
		b->name, (int)(frac * 100), cells, s > 0 ? frac * (double)b->bytes / 1e6 / s : 0.0,
		(double)samples / 1e6);
	if (eta < 0)
		fprintf(stderr, "-:--\033[K");
	else
		fprintf(stderr, "%d:%02d\033[K", (int)eta / 60, (int)eta % 60);
	fflush(stderr);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: astrofs-ingest --archive DIR [--create] [--replace] [--bad-times FILE] [--quiet] FILE...\n"
		   "       astrofs-ingest --archive DIR --create\n"
		   "       astrofs-ingest --archive DIR --dump\n"
		   "       astrofs-ingest --version | --help\n"
		   "  --create  make the archive if DIR holds none (else a missing archive is an error)\n");
}

/* Whether dir already holds an LMDB environment (an archive or its start). */
static int archive_exists(const char *dir)
{
	char path[4096];
	struct stat st;

	if (snprintf(path, sizeof(path), "%s/data.mdb", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (stat(path, &st) == 0)
		return 1;
	return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
}

/* ---- dump: a deterministic listing of everything, for tests and audits ---- */

static int dump_ledger(void *arg, const struct astro_tlm_ledger_row *l)
{
	char a[ASTRO_TLM_TIME_BUF], b[ASTRO_TLM_TIME_BUF];

	(void)arg;
	astro_tlm_time_fmt_secs(l->first, a);
	astro_tlm_time_fmt_secs(l->last, b);
	printf("ledger,%s,%s,%llu,%s,%s\n", l->name, l->sha256, (unsigned long long)l->rows, a, b);
	return 0;
}

static int dump_msid(void *arg, const struct astro_tlm_meta *m)
{
	struct astro_tlm_reader *r = arg;
	struct astro_tlm_iter *it;
	struct astro_tlm_val v;
	char ts[ASTRO_TLM_TIME_BUF], num[ASTRO_TLM_NUM_BUF];
	int64_t t;
	int bad, rc;

	printf("msid,%s,%d,%llu\n", m->name, m->type, (unsigned long long)m->samples);
	if ((rc = astro_tlm_archive_iter_open(r, m, INT64_MIN, INT64_MAX, ASTRO_TLM_ALL, &it)))
		return rc;
	while ((rc = astro_tlm_archive_iter_next(it, &t, &v, &bad)) == 1) {
		astro_tlm_time_fmt_secs(t, ts);
		if (v.type == ASTRO_TLM_STATE) {
			printf("s,%s,%s,%.*s,%d\n", m->name, ts, (int)v.tlen, v.text, bad);
			continue;
		}
		if (v.type == ASTRO_TLM_INT)
			astro_tlm_fmt_int(v.i, num);
		else
			astro_tlm_fmt_double(v.f, num);
		printf("s,%s,%s,%s,%d\n", m->name, ts, num, bad);
	}
	astro_tlm_archive_iter_close(it);
	return rc < 0 ? rc : 0;
}

static int dump(struct astro_tlm_archive *a)
{
	struct astro_tlm_reader *r;
	const char *bt;
	size_t n;
	int rc;

	if ((rc = astro_tlm_archive_reader_open(a, &r)))
		return rc;
	if (!(rc = astro_tlm_archive_reader_each_ledger(r, dump_ledger, NULL)) &&
	    !(rc = astro_tlm_archive_reader_each_msid(r, dump_msid, r))) {
		bt = astro_tlm_archive_reader_badtimes(r, &n, NULL);
		printf("badtimes,%zu\n%.*s", n, (int)n, bt);
	}
	astro_tlm_archive_reader_close(r);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"archive", required_argument, NULL, 'a'},
		{"replace", no_argument, NULL, 'r'},
		{"bad-times", required_argument, NULL, 'b'},
		{"dump", no_argument, NULL, 'd'},
		{"quiet", no_argument, NULL, 'q'},
		{"create", no_argument, NULL, 'c'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *archive = NULL, *badtimes = NULL;
	int replace = 0, do_dump = 0, quiet = 0, create = 0, c, status = 0, rc;
	int tty = isatty(STDERR_FILENO);
	struct astro_tlm_archive *a = NULL;
	char err[512];

	while ((c = getopt_long(argc, argv, "a:rb:dqhV", opts, NULL)) != -1) {
		switch (c) {
		case 'a': archive = optarg; break;
		case 'r': replace = 1; break;
		case 'b': badtimes = optarg; break;
		case 'd': do_dump = 1; break;
		case 'q': quiet = 1; break;
		case 'c': create = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("astrofs-ingest %s\n", ASTRO_VERSION); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (!archive || (do_dump && create) ||
	    (!do_dump && !create && !badtimes && optind >= argc)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	rc = archive_exists(archive);
	if (rc < 0 || (rc == 0 && !create)) {
		if (rc < 0)
			fprintf(stderr, "astrofs-ingest: %s: %s\n", archive, strerror(-rc));
		else
			fprintf(stderr, "astrofs-ingest: %s: no archive there "
				"(give --create to make a new one)\n", archive);
		return EXIT_ARCHIVE;
	}
	if (astro_tlm_archive_open(archive, do_dump ? ASTRO_TLM_RDONLY : 0, &a, err, sizeof(err))) {
		fprintf(stderr, "astrofs-ingest: %s\n", err);
		return EXIT_ARCHIVE;
	}
	if (do_dump) {
		rc = dump(a);

		astro_tlm_archive_close(a);
		if (rc) {
			fprintf(stderr, "astrofs-ingest: dump failed: %s\n", strerror(-rc));
			return EXIT_ARCHIVE;
		}
		return 0;
	}
	if (badtimes) {
		err[0] = '\0';
		rc = astro_tlm_archive_set_badtimes_file(a, badtimes, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "astrofs-ingest: %s: %s\n", badtimes, err);
			status = rc == -EINVAL || rc == -ENOENT || rc == -EACCES ? EXIT_REJECTED : EXIT_ARCHIVE;
		} else if (!quiet) {
			fprintf(stderr, "%s: bad-times table loaded\n", badtimes);
		}
	}
	for (int i = optind; i < argc; i++) {
		struct astro_tlm_ingest_result res;
		struct stat st;
		int64_t t0 = astro_mono_ms();
		struct bar bar = {argv[i], i - optind + 1, argc - optind, t0, t0, 0, 0};

		err[0] = '\0';
		/* On a terminal, a live progress bar; elsewhere only the summary line. */
		if (tty && !quiet && stat(argv[i], &st) == 0)
			bar.bytes = (uint64_t)st.st_size;
		astro_tlm_archive_set_progress(a, tty && !quiet ? bar_draw : NULL, &bar);
		rc = astro_tlm_archive_ingest_file(a, argv[i], replace ? ASTRO_TLM_REPLACE : 0,
						   &res, err, sizeof(err));
		if (bar.drawn)
			fprintf(stderr, "\r\033[K");
		if (rc == 0 && !quiet) {
			double s = (double)(astro_mono_ms() - t0) / 1000.0;

			if (res.skipped)
				fprintf(stderr, "%s: already ingested (same content), skipped\n", argv[i]);
			else
				fprintf(stderr, "%s: %zu samples%s in %.2f s\n", argv[i], res.rows,
					res.replaced ? " (replaced the earlier version)" : "", s);
		} else if (rc) {
			fprintf(stderr, "astrofs-ingest: %s: rejected: %s\n", argv[i], err[0] ? err : strerror(-rc));
			if (rc == -EINVAL || rc == -EEXIST || rc == -ENOENT || rc == -EACCES || rc == -EISDIR)
				status = status ? status : EXIT_REJECTED;
			else
				status = EXIT_ARCHIVE;
		}
	}
	astro_tlm_archive_close(a);
	return status;
}
