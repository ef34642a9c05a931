/*
 * stats.c — see stats.h.  A fixed table of named counters: names are few
 * and known (service x what), so a linear probe under a lock at first use
 * and atomic adds afterwards are plenty.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "core/astro.h"
#include "core/stats.h"

#define MAX_COUNTERS 256
#define MAX_SECTIONS 16

struct counter {
	char name[48];
	int64_t value;
};

static struct counter counters[MAX_COUNTERS];
static unsigned ncounters;
static struct {
	char name[32];
	astro_stats_section_fn fn;
	void *arg;
} sections[MAX_SECTIONS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static struct counter *find(const char *name, int create)
{
	unsigned n = __atomic_load_n(&ncounters, __ATOMIC_ACQUIRE);

	for (unsigned i = 0; i < n; i++)
		if (strcmp(counters[i].name, name) == 0)
			return &counters[i];
	if (!create)
		return NULL;
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < ncounters; i++)
		if (strcmp(counters[i].name, name) == 0) {
			pthread_mutex_unlock(&lock);
			return &counters[i];
		}
	if (ncounters == MAX_COUNTERS) {
		pthread_mutex_unlock(&lock);
		return NULL;
	}
	astro_strlcpy(counters[ncounters].name, name, sizeof(counters[0].name));
	counters[ncounters].value = 0;
	__atomic_store_n(&ncounters, ncounters + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&lock);
	return &counters[ncounters - 1];
}

void astro_stats_add(const char *name, int64_t delta)
{
	struct counter *c = find(name, 1);

	if (c)
		__atomic_add_fetch(&c->value, delta, __ATOMIC_RELAXED);
}

int64_t astro_stats_get(const char *name)
{
	struct counter *c = find(name, 0);

	return c ? __atomic_load_n(&c->value, __ATOMIC_RELAXED) : 0;
}

void astro_stats_register(const char *section, astro_stats_section_fn fn, void *arg)
{
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < MAX_SECTIONS; i++)
		if (!sections[i].fn) {
			astro_strlcpy(sections[i].name, section, sizeof(sections[i].name));
			sections[i].fn = fn;
			sections[i].arg = arg;
			break;
		}
	pthread_mutex_unlock(&lock);
}

void astro_stats_unregister(const char *section)
{
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < MAX_SECTIONS; i++)
		if (sections[i].fn && strcmp(sections[i].name, section) == 0)
			sections[i].fn = NULL;
	pthread_mutex_unlock(&lock);
}

char *astro_stats_json(void)
{
	json_t *root = json_object();
	char *text, *out = NULL;
	unsigned n = __atomic_load_n(&ncounters, __ATOMIC_ACQUIRE);

	for (unsigned i = 0; i < n; i++) {
		char svc[48];
		const char *dot = strchr(counters[i].name, '.');
		json_t *obj;

		if (!dot)
			continue;
		snprintf(svc, sizeof(svc), "%.*s", (int)(dot - counters[i].name), counters[i].name);
		obj = json_object_get(root, svc);
		if (!obj) {
			obj = json_object();
			json_object_set_new(root, svc, obj);
		}
		json_object_set_new(obj, dot + 1,
				    json_integer(__atomic_load_n(&counters[i].value, __ATOMIC_RELAXED)));
	}
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < MAX_SECTIONS; i++) {
		json_t *obj;

		if (!sections[i].fn)
			continue;
		obj = json_object_get(root, sections[i].name);
		if (!obj) {
			obj = json_object();
			json_object_set_new(root, sections[i].name, obj);
		}
		sections[i].fn(obj, sections[i].arg);
	}
	pthread_mutex_unlock(&lock);
	text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(root);
	if (text) {
		size_t l = strlen(text);
		out = malloc(l + 2);
		if (out) {
			memcpy(out, text, l);
			out[l] = '\n';
			out[l + 1] = '\0';
		}
		free(text);
	}
	return out;
}
