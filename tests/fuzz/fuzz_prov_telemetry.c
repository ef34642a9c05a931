/*
 * Fuzz the /telemetry path parser through getattr/open/read on a small
 * archive: any path gives 0 or a clean -errno, and a file's size equals the
 * bytes it reads.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/config.h"
#include "telemetry/prov_telemetry.h"
#include "telemetry/tlm_archive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *priv;
static char *dir;

/* libFuzzer has no teardown: remove the scratch archive at exit. */
static void cleanup(void)
{
	char path[600];

	astro_prov_telemetry.destroy(priv);
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	unlink(path);
	rmdir(dir);
}

static void *provider(void)
{
	static struct astro_config cfg;
	struct astro_ctx ctx = {0};
	struct astro_tlm_ingest_result res;
	char tmpl[] = "/tmp/astro-fuzz-telem-XXXXXX", err[256];
	const char *csv = "msid,time,value,quality\nX,2020:001,1.5,0\nX,2020:001:00:01:00,2,1\n"
			  "X,2020:002,-3,0\nS,2020:001,ON,0\nS,2020:001:12:00:00,\"A,B\",0\n";

	if (priv)
		return priv;
	cfg.archive_dir = dir = mkdtemp(tmpl) ? strdup(tmpl) : NULL;
	ctx.cfg = &cfg;
	if (!cfg.archive_dir || astro_prov_telemetry.init(&ctx, &priv))
		abort();
	atexit(cleanup);
	if (astro_tlm_archive_ingest(astro_prov_telemetry_archive(priv), "seed.csv", csv,
				     strlen(csv), 0, &res, err, sizeof(err)))
		abort();
	return priv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *p = provider();
	char path[512], buf[4096];
	struct astro_attr a;
	struct astro_file f = {0};
	uint64_t total = 0;
	int rc;

	if (size >= sizeof(path) || memchr(data, '\0', size))
		return 0;
	memcpy(path, data, size);
	path[size] = '\0';
	rc = astro_prov_telemetry.getattr(p, path, &a);
	assert(rc == 0 || rc == -ENOENT || rc == -EINVAL);
	if (rc != 0 || a.kind != ASTRO_FILE)
		return 0;
	assert(astro_prov_telemetry.open(p, path, O_RDONLY, &f) == 0);
	while ((rc = astro_prov_telemetry.read(p, path, &f, buf, sizeof(buf), (off_t)total)) > 0)
		total += (uint64_t)rc;
	assert(rc == 0 && total == a.size);
	astro_prov_telemetry.release(p, path, &f);
	return 0;
}
