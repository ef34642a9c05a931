/* obs_sites.c — the simulator's sites YAML (see obs_sites.h). */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <yaml.h>
#include "core/astro.h"
#include "obs_sites.h"

static int fail(char *err, size_t errlen, const char *what, const yaml_node_t *at,
		const char *fmt, ...) ASTRO_PRINTF(5, 6);

static int fail(char *err, size_t errlen, const char *what, const yaml_node_t *at,
		const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (at)
		return astro_err_set(err, errlen, -EINVAL, "%s:%zu: %s", what,
				     (size_t)at->start_mark.line + 1, msg);
	return astro_err_set(err, errlen, -EINVAL, "%s: %s", what, msg);
}

bool astro_obs_sites_key_valid(const char *key, size_t len)
{
	size_t i;

	if (len == 0 || len > ASTRO_OBS_SITE_KEY_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = key[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A finite decimal number, the whole scalar. */
static int parse_number(const yaml_node_t *n, double *out)
{
	const char *s = scalar(n);
	char *end;

	if (!s || !*s || n->data.scalar.length != strlen(s))
		return -EINVAL;
	errno = 0;
	*out = strtod(s, &end);
	if (errno || *end || !isfinite(*out) || strpbrk(s, "xXnN"))
		return -EINVAL;
	return 0;
}

/* "HOST:PORT" (the host may be a bracketed IPv6 address). */
static int parse_indi(const yaml_node_t *fv, const char *v, struct astro_obs_site *site,
		      const char *k, const char *what, char *err, size_t errlen)
{
	const char *colon = strrchr(v, ':');
	const char *h = v, *he = colon;
	unsigned long port;
	char *end;

	if (v[0] == '[') {
		h = v + 1;
		he = strchr(v, ']');
		if (!he || he + 1 != colon)
			he = NULL;
	}
	errno = 0;
	port = colon ? strtoul(colon + 1, &end, 10) : 0;
	if (!colon || !he || he == h || !colon[1] || *end || errno || port < 1 || port > 65535 ||
	    memchr(h, ' ', (size_t)(he - h)))
		return fail(err, errlen, what, fv, "site '%s': indi '%s' is not HOST:PORT", k, v);
	site->indi_port = (unsigned)port;
	site->indi_host = strndup(h, (size_t)(he - h));
	return site->indi_host ? 0 : -ENOMEM;
}

static int parse_site(yaml_document_t *doc, const yaml_node_t *key,
		      const yaml_node_t *val, const char *what,
		      struct astro_obs_site *site, char *err, size_t errlen)
{
	const yaml_node_pair_t *p;
	json_t *info = json_object();
	int rc = -EINVAL;
	const char *k = scalar(key);

	if (!info)
		return -ENOMEM;
	if (!k || !astro_obs_sites_key_valid(k, key->data.scalar.length)) {
		rc = fail(err, errlen, what, key,
			  "site key must be 1-%d characters of [A-Za-z0-9_-]",
			  ASTRO_OBS_SITE_KEY_MAX);
		goto out;
	}
	astro_strlcpy(site->key, k, sizeof(site->key));
	if (!val || val->type != YAML_MAPPING_NODE) {
		rc = fail(err, errlen, what, val ? val : key,
			  "site '%s' must be a mapping of fields", k);
		goto out;
	}
	for (p = val->data.mapping.pairs.start; p < val->data.mapping.pairs.top; p++) {
		const yaml_node_t *fk = yaml_document_get_node(doc, p->key);
		const yaml_node_t *fv = yaml_document_get_node(doc, p->value);
		const char *f = scalar(fk), *v = scalar(fv);
		double d = 0;
		json_t *j;

		if (!f || !v || fk->data.scalar.length != strlen(f) ||
		    fv->data.scalar.length != strlen(v)) {
			rc = fail(err, errlen, what, fk ? fk : val,
				  "site '%s': fields must be scalar key: value", k);
			goto out;
		}
		if (json_object_get(info, f)) {
			rc = fail(err, errlen, what, fk, "site '%s': duplicate field '%s'", k, f);
			goto out;
		}
		if (strcmp(f, "lat") == 0 || strcmp(f, "lng") == 0 ||
		    strcmp(f, "elevation") == 0) {
			if (parse_number(fv, &d) < 0) {
				rc = fail(err, errlen, what, fv, "site '%s': %s '%s' is not a number",
					  k, f, v);
				goto out;
			}
			if (f[0] == 'l' && f[1] == 'a' && (d < -90 || d > 90)) {
				rc = fail(err, errlen, what, fv,
					  "site '%s': lat %s not in [-90,90]", k, v);
				goto out;
			}
			if (f[0] == 'l' && f[1] == 'n' && (d < -180 || d >= 360)) {
				rc = fail(err, errlen, what, fv,
					  "site '%s': lng %s not in [-180,360)", k, v);
				goto out;
			}
			if (f[0] == 'l' && f[1] == 'a') {
				site->has_lat = true;
				site->lat = d;
			} else if (f[0] == 'l') {
				site->has_lng = true;
				site->lng = d;
			} else {
				site->has_elevation = true;
				site->elevation = d;
			}
			j = json_real(d);
		} else {
			if (strcmp(f, "name") == 0 && !site->name &&
			    !(site->name = strdup(v))) {
				rc = -ENOMEM;
				goto out;
			}
			if (strcmp(f, "indi") == 0 &&
			    (rc = parse_indi(fv, v, site, k, what, err, errlen)) < 0)
				goto out;
			if ((strcmp(f, "indi_telescope") == 0 &&
			     !(site->indi_telescope = strdup(v))) ||
			    (strcmp(f, "indi_ccd") == 0 && !(site->indi_ccd = strdup(v)))) {
				rc = -ENOMEM;
				goto out;
			}
			j = json_string(v);
		}
		if (!j || json_object_set_new(info, f, j) < 0) {
			/* jansson refuses strings that are not UTF-8. */
			rc = fail(err, errlen, what, fv, "site '%s': field '%s' is not valid UTF-8",
				  k, f);
			goto out;
		}
	}
	if (json_object_set_new(info, "key", json_string(k)) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	char *txt = json_dumps(info, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(12));
	if (!txt) {
		rc = -ENOMEM;
		goto out;
	}
	size_t tl = strlen(txt);
	site->info_json = malloc(tl + 2);
	if (site->info_json) {
		memcpy(site->info_json, txt, tl);
		memcpy(site->info_json + tl, "\n", 2);
	}
	free(txt);
	rc = site->info_json ? 0 : -ENOMEM;
out:
	json_decref(info);
	return rc;
}

int astro_obs_sites_parse(const char *buf, size_t len, const char *what,
			  struct astro_obs_sites *out, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root, *sites = NULL;
	const yaml_node_pair_t *p;
	int rc = -EINVAL;
	bool have_doc = false;

	memset(out, 0, sizeof(*out));
	if (!what)
		what = "sites";
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = fail(err, errlen, what, NULL, "YAML error at line %zu: %s",
			  (size_t)parser.problem_mark.line + 1,
			  parser.problem ? parser.problem : "unknown");
		goto out;
	}
	have_doc = true;
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		rc = fail(err, errlen, what, NULL, "empty file: expected a 'Sites:' mapping");
		goto out;
	}
	if (root->type != YAML_MAPPING_NODE) {
		rc = fail(err, errlen, what, root, "top level must be a mapping with 'Sites:'");
		goto out;
	}
	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		const char *k = scalar(yaml_document_get_node(&doc, p->key));

		if (k && strcmp(k, "Sites") == 0) {
			if (sites) {
				rc = fail(err, errlen, what, yaml_document_get_node(&doc, p->key),
					  "duplicate 'Sites:'");
				goto out;
			}
			sites = yaml_document_get_node(&doc, p->value);
		}
	}
	if (!sites) {
		rc = fail(err, errlen, what, root, "no 'Sites:' mapping");
		goto out;
	}
	if (sites->type != YAML_MAPPING_NODE) {
		rc = fail(err, errlen, what, sites, "'Sites:' must map site keys to fields");
		goto out;
	}
	size_t n = (size_t)(sites->data.mapping.pairs.top - sites->data.mapping.pairs.start);
	if (n == 0) {
		rc = fail(err, errlen, what, sites, "'Sites:' lists no site");
		goto out;
	}
	if (n > ASTRO_OBS_SITES_MAX) {
		rc = fail(err, errlen, what, sites, "more than %d sites", ASTRO_OBS_SITES_MAX);
		goto out;
	}
	out->v = calloc(n, sizeof(*out->v));
	if (!out->v) {
		rc = -ENOMEM;
		goto out;
	}
	for (p = sites->data.mapping.pairs.start; p < sites->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = yaml_document_get_node(&doc, p->key);
		struct astro_obs_site *s = &out->v[out->n];

		rc = parse_site(&doc, k, yaml_document_get_node(&doc, p->value), what,
				s, err, errlen);
		out->n++;	/* counted even on failure, so free() sees it */
		if (rc < 0)
			goto out;
		if (out->n > 1 && astro_obs_sites_find(&(struct astro_obs_sites){
				out->n - 1, out->v }, s->key)) {
			rc = fail(err, errlen, what, k, "duplicate site '%s'", s->key);
			goto out;
		}
	}
	rc = 0;
out:
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (rc < 0)
		astro_obs_sites_free(out);
	return rc;
}

int astro_obs_sites_load(const char *path, struct astro_obs_sites *out,
			 char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!f) {
		rc = -errno;
		return astro_err_set(err, errlen, rc, "%s: %s", path, strerror(-rc));
	}
	for (;;) {
		if (len == cap) {
			char *nb;

			/* Sites files are small; refuse anything absurd. */
			if (cap >= (1u << 20)) {
				snprintf(err, errlen, "%s: larger than 1 MiB", path);
				rc = -EFBIG;
				goto out;
			}
			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap);
			if (!nb) {
				rc = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		rc = -EIO;
		snprintf(err, errlen, "%s: read error", path);
		goto out;
	}
	rc = astro_obs_sites_parse(buf, len, path, out, err, errlen);
out:
	free(buf);
	fclose(f);
	return rc;
}

void astro_obs_sites_free(struct astro_obs_sites *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->v[i].name);
		free(s->v[i].info_json);
		free(s->v[i].indi_host);
		free(s->v[i].indi_telescope);
		free(s->v[i].indi_ccd);
	}
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

const struct astro_obs_site *astro_obs_sites_find(const struct astro_obs_sites *s,
						  const char *key)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i].key, key) == 0)
			return &s->v[i];
	return NULL;
}
