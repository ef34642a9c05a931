/*
 * obs_indi.h — an INDI client: the protocol's XML stream parsed with expat,
 * the properties it announces kept current, commands written as new*Vector.
 *
 * Parser (astro_obs_indi_parser_*): the server's stream is a sequence of
 * top-level elements with no document root; each complete def*Vector,
 * set*Vector, delProperty or message is handed to a callback as one
 * struct astro_obs_indi_msg.  Garbage is refused, never skipped: XML that
 * is not well formed, a DOCTYPE, an element INDI does not have, a member
 * of the wrong kind (oneText in a setNumberVector), a missing device or
 * name, a state other than Idle/Ok/Busy/Alert, a number that is neither
 * decimal nor sexagesimal, base64 that does not decode to the BLOB's size,
 * a text or BLOB above its bound.  The message names the line and what
 * was wrong; a refused stream stays refused (the caller disconnects).
 *
 * Client (astro_obs_indi_*): one TCP connection and a reader thread that
 * applies every message to a table of properties under one lock, counting
 * updates with a generation number so a caller can wait for "anything
 * newer than what I saw".  The last few device messages and the last BLOB
 * are kept.  Thread-safety: every function may be called from any thread;
 * connect/close from one.  Returns 0 or -errno.
 */
#ifndef ASTRO_OBS_INDI_H
#define ASTRO_OBS_INDI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ASTRO_OBS_INDI_NAME_MAX 63
#define ASTRO_OBS_INDI_TEXT_MAX 4096		/* one member's text */
#define ASTRO_OBS_INDI_BLOB_MAX (256u << 20)	/* decoded BLOB bytes */

enum astro_obs_indi_state {
	ASTRO_OBS_INDI_NONE = -1,	/* a set*Vector without a state */
	ASTRO_OBS_INDI_IDLE = 0,
	ASTRO_OBS_INDI_OK,
	ASTRO_OBS_INDI_BUSY,
	ASTRO_OBS_INDI_ALERT,
};
const char *astro_obs_indi_state_name(enum astro_obs_indi_state s);

enum astro_obs_indi_kind { ASTRO_OBS_INDI_DEF, ASTRO_OBS_INDI_SET, ASTRO_OBS_INDI_DEL,
			   ASTRO_OBS_INDI_MESSAGE };

struct astro_obs_indi_member {
	char name[ASTRO_OBS_INDI_NAME_MAX + 1];
	char *text;		/* trimmed; NUL-terminated */
	double number;		/* Number members: the parsed value */
	void *blob;		/* BLOB members: decoded bytes */
	size_t blob_len;
	char format[16];	/* BLOB members: ".fits", ... */
};

struct astro_obs_indi_msg {
	enum astro_obs_indi_kind kind;
	char type;		/* 'N' 'S' 'T' 'L' 'B'; 0 for DEL, MESSAGE */
	char device[ASTRO_OBS_INDI_NAME_MAX + 1];	/* may be "" for MESSAGE */
	char name[ASTRO_OBS_INDI_NAME_MAX + 1];		/* "" for MESSAGE / whole-device DEL */
	enum astro_obs_indi_state state;
	char message[512];	/* the message attribute, or "" */
	size_t n;
	struct astro_obs_indi_member *v;
};

typedef void (*astro_obs_indi_msg_fn)(void *arg, const struct astro_obs_indi_msg *m);
struct astro_obs_indi_parser;

struct astro_obs_indi_parser *astro_obs_indi_parser_new(astro_obs_indi_msg_fn fn, void *arg);
/* Feed the next bytes of the stream: 0, or -EBADMSG with err naming the
 * line and the fault (then every later feed fails too), or -ENOMEM. */
int astro_obs_indi_parser_feed(struct astro_obs_indi_parser *p, const char *buf, size_t len,
			       char *err, size_t errlen);
void astro_obs_indi_parser_free(struct astro_obs_indi_parser *p);

/* A number as INDI writes them: decimal, or sexagesimal "d:m[:s]" / "d m s". */
int astro_obs_indi_number(const char *s, double *out);

/* ---- client ---- */
struct astro_obs_indi;

int astro_obs_indi_new(const char *host, unsigned port, struct astro_obs_indi **out);
void astro_obs_indi_free(struct astro_obs_indi *c);
/* (Re)connect, forget every property, send getProperties; err on failure. */
int astro_obs_indi_connect(struct astro_obs_indi *c, unsigned timeout_ms, char *err,
			   size_t errlen);
void astro_obs_indi_disconnect(struct astro_obs_indi *c);
/* Connected and the stream is sound; else why (when why is not NULL). */
bool astro_obs_indi_alive(struct astro_obs_indi *c, char *why, size_t whylen);

/* The generation: bumped by every message applied. */
uint64_t astro_obs_indi_gen(struct astro_obs_indi *c);
/* Wait until the generation passes `after`: 0, -ETIMEDOUT (deadline, a
 * monotonic ms time), -ECONNRESET (connection lost). */
int astro_obs_indi_wait(struct astro_obs_indi *c, uint64_t after, int64_t deadline_ms);

/* The first device that defines property `prop`, into dev. -ENOENT. */
int astro_obs_indi_find_device(struct astro_obs_indi *c, const char *prop, char *dev, size_t n);
/* The first device whose DRIVER_INFO.DRIVER_INTERFACE has a bit of mask
 * (INDI: 1 telescope, 2 CCD), into dev. -ENOENT. */
int astro_obs_indi_find_interface(struct astro_obs_indi *c, unsigned mask, char *dev, size_t n);
/* A property's state and the generation of its last update; -ENOENT. */
int astro_obs_indi_prop(struct astro_obs_indi *c, const char *dev, const char *prop,
			enum astro_obs_indi_state *state, uint64_t *gen, char *message,
			size_t msglen);
/* One member's text value; -ENOENT. */
int astro_obs_indi_value(struct astro_obs_indi *c, const char *dev, const char *prop,
			 const char *member, char *out, size_t n);
/* The newest device message (or vector message attribute) newer than
 * generation `after`; -ENOENT. */
int astro_obs_indi_message(struct astro_obs_indi *c, const char *dev, uint64_t after,
			   char *out, size_t n);
/* Take (move out) the newest BLOB of dev newer than `after`; -ENOENT. */
int astro_obs_indi_blob_take(struct astro_obs_indi *c, const char *dev, uint64_t after,
			     void **data, size_t *len, char *format, size_t fmtlen);

/* Write a new*Vector: a switch vector with `on` On (others left to the
 * rule), or numbers. */
int astro_obs_indi_new_switch(struct astro_obs_indi *c, const char *dev, const char *prop,
			      const char *on);
int astro_obs_indi_new_numbers(struct astro_obs_indi *c, const char *dev, const char *prop,
			       size_t n, const char *const *names, const double *values);
/* <enableBLOB device=dev>Also</enableBLOB> */
int astro_obs_indi_enable_blob(struct astro_obs_indi *c, const char *dev);

#endif
