/*
 * /telemetry over the network without a mount: one provider serves its
 * archive with the listener (tlm_http.c) on 127.0.0.1, a second reads it
 * with archive_url (tlm_remote.c); both are driven through the provider
 * interface.  Bytes, sizes and listings equal; errors map (404 ENOENT, 400
 * EINVAL, 401 EACCES); writes EROFS; offline without a cache and a stopped
 * host without cached attributes EIO, within the timeout.
 */
#include "unit.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "core/astro.h"
#include "core/config.h"
#include "services/http.h"
#include "telemetry/prov_telemetry.h"
#include "telemetry/tlm_archive.h"
#include "telemetry/tlm_http.h"

#define P astro_prov_telemetry

static const char DATA[] =
	"msid,time,value,quality\n"
	"TA,2024:001:00:00:00.000,1.5,0\n"
	"TA,2024:001:00:10:00.000,-2.25,0\n"
	"TA,2024:001:12:00:00.000,1e-300,1\n"
	"TA,2024:002:00:00:00.000,3,0\n"
	"TS,2024:001:00:00:00.000,NPNT,0\n"
	"TS,2024:001:06:00:00.000,NMAN,0\n";

struct fx {
	char *dir;
	char listen[64], url[80], token[300];
	struct astro_config host, reader;
	void *a, *b;
};

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	assert_int_equal(chmod(path, mode), 0);
}

static unsigned free_port(void)
{
	struct sockaddr_in s = {.sin_family = AF_INET};
	socklen_t len = sizeof(s);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port;

	s.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&s, sizeof(s)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&s, &len), 0);
	port = ntohs(s.sin_port);
	close(fd);
	return port;
}

static void start_host(struct fx *f, const char *token_file)
{
	struct astro_ctx ctx = {0};

	f->host.archive_dir = f->dir;
	f->host.telemetry_listen = f->listen;
	f->host.telemetry_token = (char *)token_file;
	ctx.cfg = &f->host;
	assert_int_equal(P.init(&ctx, &f->a), 0);
}

static int start_reader(struct fx *f, const char *token_file, int offline, void **out)
{
	struct astro_ctx ctx = {0};

	memset(&f->reader, 0, sizeof(f->reader));
	f->reader.archive_url = f->url;
	f->reader.archive_token = (char *)token_file;
	f->reader.timeout = 3;
	f->reader.offline = offline;
	ctx.cfg = &f->reader;
	return P.init(&ctx, out);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct astro_tlm_ingest_result res;
	struct astro_tlm_archive *ar;
	char err[256];
	unsigned port = free_port();

	f->dir = unit_tmpdir();
	snprintf(f->listen, sizeof(f->listen), "127.0.0.1:%u", port);
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u", port);
	assert_int_equal(astro_tlm_archive_open(f->dir, 0, &ar, err, sizeof(err)), 0);
	assert_int_equal(astro_tlm_archive_ingest(ar, "in.csv", DATA, strlen(DATA), 0, &res, err,
						  sizeof(err)), 0);
	astro_tlm_archive_close(ar);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[512];

	if (f->b)
		P.destroy(f->b);
	if (f->a)
		P.destroy(f->a);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f->dir);
	free(f);
	return 0;
}

static char *read_all(void *priv, const char *path, size_t chunk, size_t *len)
{
	struct astro_file file = {0};
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	int rc;

	assert_int_equal(P.open(priv, path, O_RDONLY, &file), 0);
	for (;;) {
		if (n + chunk + 1 > cap)
			buf = realloc(buf, cap = (n + chunk + 1) * 2);
		rc = P.read(priv, path, &file, buf + n, chunk, (off_t)n);
		assert_true(rc >= 0);
		if (rc == 0)
			break;
		n += (size_t)rc;
	}
	P.release(priv, path, &file);
	*len = n;
	return buf;
}

struct names {
	char text[4096];
};

static int add_name(void *buf, const char *name, const struct astro_attr *a)
{
	struct names *n = buf;

	(void)a;
	strncat(n->text, name, sizeof(n->text) - strlen(n->text) - 2);
	strcat(n->text, "\n");
	return 0;
}

static void same_bytes_sizes_listings(void **state)
{
	struct fx *f = *state;
	static const char *const paths[] = {
		"INDEX.csv", "BAD_TIMES", ".ingest/ledger.csv", "TA.csv", "ta.5min.csv",
		"TA.daily.npy", "TS.npy", "TA/2024/001.csv", "TA@2024:001..2024:001:06.csv",
		"TS@2024:001..2024:003.5min.npy", "TA.svg",
	};
	struct names na = {{0}}, nb = {{0}};

	start_host(f, NULL);
	assert_int_equal(start_reader(f, NULL, 0, &f->b), 0);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct astro_attr x, y;
		size_t la, lb;
		char *a, *b;

		assert_int_equal(P.getattr(f->a, paths[i], &x), 0);
		assert_int_equal(P.getattr(f->b, paths[i], &y), 0);
		assert_int_equal(y.kind, ASTRO_FILE);
		assert_int_equal(x.size, y.size);
		a = read_all(f->a, paths[i], 4096, &la);
		b = read_all(f->b, paths[i], 777, &lb);	/* odd chunks: reads inside blocks */
		assert_int_equal(la, lb);
		assert_int_equal(lb, y.size);
		assert_memory_equal(a, b, la);
		free(a);
		free(b);
	}
	assert_int_equal(P.readdir(f->a, "", add_name, &na), 0);
	assert_int_equal(P.readdir(f->b, "", add_name, &nb), 0);
	assert_string_equal(na.text, nb.text);
	memset(&na, 0, sizeof(na));
	memset(&nb, 0, sizeof(nb));
	assert_int_equal(P.readdir(f->a, "TA/2024", add_name, &na), 0);
	assert_int_equal(P.readdir(f->b, "TA/2024", add_name, &nb), 0);
	assert_string_equal(na.text, nb.text);
	{
		struct astro_attr d;

		assert_int_equal(P.getattr(f->b, "TA/2024", &d), 0);
		assert_int_equal(d.kind, ASTRO_DIR);
	}
}

/* A listing whose host had no time to size its entries still lists them
 * all; their attributes come one by one. */
static void listing_without_items(void **state)
{
	struct fx *f = *state;
	struct names na = {{0}}, nb = {{0}};
	struct astro_attr x, y;

	astro_tlm_http_test_budget_ms = 0;
	start_host(f, NULL);
	assert_int_equal(start_reader(f, NULL, 0, &f->b), 0);
	assert_int_equal(P.readdir(f->a, "", add_name, &na), 0);
	assert_int_equal(P.readdir(f->b, "", add_name, &nb), 0);
	astro_tlm_http_test_budget_ms = 300;
	assert_true(strlen(na.text) > 20);
	assert_string_equal(na.text, nb.text);
	assert_int_equal(P.getattr(f->a, "TA.5min.csv", &x), 0);
	assert_int_equal(P.getattr(f->b, "TA.5min.csv", &y), 0);
	assert_int_equal(y.kind, ASTRO_FILE);
	assert_int_equal(x.size, y.size);
}

static void errors_map(void **state)
{
	struct fx *f = *state;
	struct astro_file file = {0};
	struct astro_attr a;

	start_host(f, NULL);
	assert_int_equal(start_reader(f, NULL, 0, &f->b), 0);
	assert_int_equal(P.getattr(f->b, "NOSUCH.csv", &a), -ENOENT);
	assert_int_equal(P.getattr(f->b, "TA@2024:003..2024:001.csv", &a), -EINVAL);
	assert_int_equal(P.getattr(f->b, "TA@garbage..2024:001.csv", &a), -EINVAL);
	assert_int_equal(P.open(f->b, "TA.csv", O_WRONLY, &file), -EROFS);
	assert_int_equal(P.open(f->b, "TA.csv", O_RDWR, &file), -EROFS);
	assert_null(P.write);	/* no way to write: ingest stays on the host */
}

static void tokens(void **state)
{
	struct fx *f = *state;
	char tok[300], good[300], bad[300];
	struct astro_attr a;
	void *c = NULL;

	snprintf(tok, sizeof(tok), "%s/tokens", f->dir);
	snprintf(good, sizeof(good), "%s/good", f->dir);
	snprintf(bad, sizeof(bad), "%s/bad", f->dir);
	write_file(tok, "k-one\nk-two\n", 0600);
	write_file(good, "k-two\n", 0600);
	write_file(bad, "k-three\n", 0600);
	start_host(f, tok);
	assert_int_equal(start_reader(f, good, 0, &f->b), 0);
	assert_int_equal(P.getattr(f->b, "TA.csv", &a), 0);
	assert_int_equal(start_reader(f, bad, 0, &c), 0);
	assert_int_equal(P.getattr(c, "TA.csv", &a), -EACCES);
	P.destroy(c);
	c = NULL;
	assert_int_equal(start_reader(f, NULL, 0, &c), 0);
	assert_int_equal(P.getattr(c, "TA.csv", &a), -EACCES);
	P.destroy(c);
}

static void host_down_and_offline(void **state)
{
	struct fx *f = *state;
	struct astro_attr a;
	void *c = NULL;
	int64_t t0;
	size_t n;
	char *buf;

	start_host(f, NULL);
	assert_int_equal(start_reader(f, NULL, 0, &f->b), 0);
	assert_int_equal(P.getattr(f->b, "TA.5min.csv", &a), 0);
	P.destroy(f->a);
	f->a = NULL;
	/* known attributes still answer; a path never asked is EIO within timeout */
	assert_int_equal(P.getattr(f->b, "TA.5min.csv", &a), 0);
	t0 = astro_mono_ms();
	assert_int_equal(P.getattr(f->b, "TS.csv", &a), -EIO);
	assert_true(astro_mono_ms() - t0 < 4500);
	/* offline with no cache: nothing to serve, nothing asked */
	assert_int_equal(start_reader(f, NULL, 1, &c), 0);
	assert_int_equal(P.getattr(c, "TA.csv", &a), -EIO);
	P.destroy(c);
	/* the host back: the reader recovers */
	start_host(f, NULL);
	buf = read_all(f->b, "TS.csv", 4096, &n);
	assert_true(n > 20 && memcmp(buf, "date,secs,value\n", 16) == 0);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(same_bytes_sizes_listings, setup, teardown),
		cmocka_unit_test_setup_teardown(listing_without_items, setup, teardown),
		cmocka_unit_test_setup_teardown(errors_map, setup, teardown),
		cmocka_unit_test_setup_teardown(tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(host_down_and_offline, setup, teardown),
	};

	assert_int_equal(astro_http_global_init(), 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
