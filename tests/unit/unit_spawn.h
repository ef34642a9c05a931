/*
 * unit_spawn.h — start a loopback test server that prints
 * "listening on 127.0.0.1:PORT" as its first stdout line.
 */
#ifndef ASTRO_UNIT_SPAWN_H
#define ASTRO_UNIT_SPAWN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include "services/http.h"

/*
 * Run argv (searched on PATH), read its port into *port, then set up the
 * HTTP layer (a group setup's whole job).  0 or -1.
 */
static inline int unit_spawn_http(const char *const argv[], pid_t *pid, int *port)
{
	int fds[2];
	char line[128] = "";
	FILE *f;

	if (pipe(fds))
		return -1;
	*pid = fork();
	if (*pid < 0)
		return -1;
	if (*pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	if (!f || !fgets(line, sizeof(line), f)) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	if (strncmp(line, "listening on 127.0.0.1:", 23) != 0)
		return -1;
	*port = (int)strtol(line + 23, NULL, 10);
	return astro_http_global_init();
}

#endif
