#include "unit.h"
#include <dlfcn.h>
#include <errno.h>
#include <jpeglib.h>
#include "obs/obs_jpeg.h"

/*
 * The ground truth is Debian's libjpeg, loaded at run time (so the build does
 * not link it): it must decode our bytes to the block means we encoded.  When
 * the library is absent the decode test is skipped and says so.
 */
struct jl {
	void *h;
	struct jpeg_error_mgr *(*std_error)(struct jpeg_error_mgr *);
	void (*create)(j_decompress_ptr, int, size_t);
	void (*mem_src)(j_decompress_ptr, const unsigned char *, unsigned long);
	int (*read_header)(j_decompress_ptr, boolean);
	boolean (*start)(j_decompress_ptr);
	JDIMENSION (*scanlines)(j_decompress_ptr, JSAMPARRAY, JDIMENSION);
	boolean (*finish)(j_decompress_ptr);
	void (*destroy)(j_decompress_ptr);
};

static jmp_buf jpeg_jump;
static char jpeg_msg[JMSG_LENGTH_MAX];

static void on_error(j_common_ptr c)
{
	c->err->format_message(c, jpeg_msg);
	longjmp(jpeg_jump, 1);
}

static int load(struct jl *j)
{
	j->h = dlopen("libjpeg.so.62", RTLD_NOW);
	if (!j->h)
		return -1;
	*(void **)&j->std_error = dlsym(j->h, "jpeg_std_error");
	*(void **)&j->create = dlsym(j->h, "jpeg_CreateDecompress");
	*(void **)&j->mem_src = dlsym(j->h, "jpeg_mem_src");
	*(void **)&j->read_header = dlsym(j->h, "jpeg_read_header");
	*(void **)&j->start = dlsym(j->h, "jpeg_start_decompress");
	*(void **)&j->scanlines = dlsym(j->h, "jpeg_read_scanlines");
	*(void **)&j->finish = dlsym(j->h, "jpeg_finish_decompress");
	*(void **)&j->destroy = dlsym(j->h, "jpeg_destroy_decompress");
	return j->std_error && j->create && j->mem_src && j->read_header && j->start &&
	       j->scanlines && j->finish && j->destroy ? 0 : -1;
}

static void decodes_to_block_means(void **state)
{
	enum { W = 48, H = 32 };
	static uint8_t pix[W * H], got[W * H];
	struct jpeg_decompress_struct cinfo;
	struct jpeg_error_mgr jerr;
	struct jl j = { 0 };
	uint8_t *jpg = NULL;
	size_t len = 0;
	unsigned x, y;

	(void)state;
	/* Blocks of constant grey chosen to hit small, large, negative and
	 * positive DC steps, including 0 and 255 (the extremes). */
	for (y = 0; y < H; y++)
		for (x = 0; x < W; x++)
			pix[y * W + x] = (uint8_t)((x / 8 * 53 + y / 8 * 97) % 256);
	pix[0] = 0; /* a block that is not constant: its mean is what counts */
	assert_int_equal(astro_obs_jpeg_grey(pix, W, H, &jpg, &len), 0);
	assert_true(len > 200);
	assert_memory_equal(jpg, "\xff\xd8\xff\xe0", 4);
	assert_memory_equal(jpg + len - 2, "\xff\xd9", 2);
	if (load(&j) < 0) {
		free(jpg);
		if (j.h)
			dlclose(j.h);
		skip();	/* libjpeg.so.62 not installed */
	}
	cinfo.err = j.std_error(&jerr);
	jerr.error_exit = on_error;
	if (setjmp(jpeg_jump)) {
		fail_msg("libjpeg refused our JPEG: %s", jpeg_msg);
	}
	j.create(&cinfo, JPEG_LIB_VERSION, sizeof(cinfo));
	j.mem_src(&cinfo, jpg, (unsigned long)len);
	assert_int_equal(j.read_header(&cinfo, TRUE), JPEG_HEADER_OK);
	assert_true(j.start(&cinfo));
	assert_int_equal(cinfo.output_width, W);
	assert_int_equal(cinfo.output_height, H);
	assert_int_equal(cinfo.output_components, 1);
	while (cinfo.output_scanline < H) {
		JSAMPROW row = got + cinfo.output_scanline * W;

		j.scanlines(&cinfo, &row, 1);
	}
	j.finish(&cinfo);
	j.destroy(&cinfo);
	for (y = 0; y < H; y++)
		for (x = 0; x < W; x++) {
			unsigned sum = 0, bx = x / 8 * 8, by = y / 8 * 8, i, k;

			for (i = 0; i < 8; i++)
				for (k = 0; k < 8; k++)
					sum += pix[(by + i) * W + bx + k];
			int want = (int)((sum + 32) / 64);
			int d = (int)got[y * W + x] - want;

			/* A DC-only block decodes to a flat block of its mean;
			 * the IDCT may round by one. */
			if (d < -1 || d > 1)
				fail_msg("pixel %u,%u: got %u want %d", x, y, got[y * W + x], want);
		}
	free(jpg);
	dlclose(j.h);
}

static void rejects_bad_sizes(void **state)
{
	uint8_t pix[64] = { 0 }, *out = NULL;
	size_t len;

	(void)state;
	assert_int_equal(astro_obs_jpeg_grey(pix, 7, 8, &out, &len), -EINVAL);
	assert_int_equal(astro_obs_jpeg_grey(pix, 0, 8, &out, &len), -EINVAL);
	assert_int_equal(astro_obs_jpeg_grey(NULL, 8, 8, &out, &len), -EINVAL);
	assert_int_equal(astro_obs_jpeg_grey(pix, 8, 8, &out, &len), 0);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decodes_to_block_means),
		cmocka_unit_test(rejects_bad_sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
