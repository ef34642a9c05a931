#include "unit.h"
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <jpeglib.h>
#include "obs/obs_jpeg.h"

/*
 * The previews are decoded back with libjpeg's decoder: any size (not only
 * multiples of 8), the pixels within JPEG's loss at quality 90 — not the
 * flat 8x8 block means the old DC-only encoder produced.
 */
struct dec_err {
	struct jpeg_error_mgr pub;
	jmp_buf jump;
	char msg[JMSG_LENGTH_MAX];
};

static void on_error(j_common_ptr c)
{
	struct dec_err *e = (struct dec_err *)c->err;

	c->err->format_message(c, e->msg);
	longjmp(e->jump, 1);
}

static void decode(const uint8_t *jpg, size_t len, unsigned w, unsigned h, uint8_t *got)
{
	struct jpeg_decompress_struct ci;
	struct dec_err e;

	ci.err = jpeg_std_error(&e.pub);
	e.pub.error_exit = on_error;
	if (setjmp(e.jump))
		fail_msg("libjpeg refused our JPEG: %s", e.msg);
	jpeg_create_decompress(&ci);
	jpeg_mem_src(&ci, jpg, (unsigned long)len);
	assert_int_equal(jpeg_read_header(&ci, TRUE), JPEG_HEADER_OK);
	assert_true(jpeg_start_decompress(&ci));
	assert_int_equal(ci.output_width, w);
	assert_int_equal(ci.output_height, h);
	assert_int_equal(ci.output_components, 1);
	while (ci.output_scanline < h) {
		JSAMPROW row = got + ci.output_scanline * w;

		jpeg_read_scanlines(&ci, &row, 1);
	}
	jpeg_finish_decompress(&ci);
	jpeg_destroy_decompress(&ci);
}

static void decodes_close_to_the_input(void **state)
{
	enum { W = 61, H = 37 };	/* not multiples of 8 */
	static uint8_t pix[W * H], got[W * H];
	uint8_t *jpg = NULL;
	size_t len = 0;
	unsigned x, y, within_block = 0;
	double sum = 0;

	(void)state;
	/* A smooth sky with a bright star: detail inside 8x8 blocks, which a
	 * DC-only encoder flattens. */
	for (y = 0; y < H; y++)
		for (x = 0; x < W; x++) {
			int dx = (int)x - 30, dy = (int)y - 18;
			int v = 20 + (int)x + (int)y + (dx * dx + dy * dy < 5 ? 200 : 0);

			pix[y * W + x] = (uint8_t)(v > 255 ? 255 : v);
		}
	assert_int_equal(astro_obs_jpeg_grey(pix, W, H, &jpg, &len), 0);
	assert_memory_equal(jpg, "\xff\xd8\xff\xe0", 4);
	assert_memory_equal(jpg + len - 2, "\xff\xd9", 2);
	decode(jpg, len, W, H, got);
	for (y = 0; y < H; y++)
		for (x = 0; x < W; x++) {
			int d = (int)got[y * W + x] - pix[y * W + x];

			sum += d < 0 ? -d : d;
			if (x % 8 && got[y * W + x] != got[y * W + x - 1])
				within_block++;
		}
	assert_true(sum / (W * H) < 3.0);
	/* The star is bright in the preview, not averaged into its block. */
	assert_true(got[18 * W + 30] > 180);
	assert_true(within_block > (unsigned)(W * H / 4));
	free(jpg);
}

static void rejects_bad_sizes(void **state)
{
	uint8_t pix[64] = { 0 }, *out = NULL;
	size_t len;

	(void)state;
	assert_int_equal(astro_obs_jpeg_grey(pix, 0, 8, &out, &len), -EINVAL);
	assert_int_equal(astro_obs_jpeg_grey(pix, 8, 0, &out, &len), -EINVAL);
	assert_int_equal(astro_obs_jpeg_grey(pix, ASTRO_OBS_JPEG_MAX_SIDE + 1, 1, &out, &len),
			 -EINVAL);
	assert_int_equal(astro_obs_jpeg_grey(NULL, 8, 8, &out, &len), -EINVAL);
	assert_int_equal(astro_obs_jpeg_grey(pix, 7, 9, &out, &len), 0);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decodes_close_to_the_input),
		cmocka_unit_test(rejects_bad_sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
