/* obs_jpeg.c — JPEG previews through libjpeg-turbo (see obs_jpeg.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include "obs_jpeg.h"

struct err_mgr {
	struct jpeg_error_mgr pub;
	jmp_buf jump;
};

/* libjpeg's default error_exit calls exit(); a bad call must not end the
 * filesystem or the simulator. */
static void on_error(j_common_ptr c)
{
	longjmp(((struct err_mgr *)c->err)->jump, 1);
}

static void on_message(j_common_ptr c)
{
	(void)c;	/* warnings only; the caller gets a status */
}

int astro_obs_jpeg_grey(const uint8_t *pix, unsigned w, unsigned h,
			uint8_t **out, size_t *len)
{
	struct jpeg_compress_struct ci;
	struct err_mgr em;
	unsigned char *buf = NULL;
	unsigned long size = 0;
	JSAMPROW row;

	*out = NULL;
	*len = 0;
	if (!pix || w == 0 || h == 0 || w > ASTRO_OBS_JPEG_MAX_SIDE ||
	    h > ASTRO_OBS_JPEG_MAX_SIDE)
		return -EINVAL;
	memset(&ci, 0, sizeof(ci));
	ci.err = jpeg_std_error(&em.pub);
	em.pub.error_exit = on_error;
	em.pub.output_message = on_message;
	if (setjmp(em.jump)) {
		jpeg_destroy_compress(&ci);
		free(buf);
		return -EIO;
	}
	jpeg_create_compress(&ci);
	jpeg_mem_dest(&ci, &buf, &size);
	ci.image_width = w;
	ci.image_height = h;
	ci.input_components = 1;
	ci.in_color_space = JCS_GRAYSCALE;
	jpeg_set_defaults(&ci);
	jpeg_set_quality(&ci, ASTRO_OBS_JPEG_QUALITY, TRUE);
	jpeg_start_compress(&ci, TRUE);
	while (ci.next_scanline < ci.image_height) {
		row = (JSAMPROW)(pix + (size_t)ci.next_scanline * w);
		jpeg_write_scanlines(&ci, &row, 1);
	}
	jpeg_finish_compress(&ci);
	jpeg_destroy_compress(&ci);
	if (!buf)
		return -ENOMEM;
	*out = buf;
	*len = size;
	return 0;
}
