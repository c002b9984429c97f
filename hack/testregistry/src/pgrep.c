/* pgrep: the subset of procps pgrep that the CRI validation suite uses.
 * Debian's busybox has no pgrep applet.
 * usage: pgrep [-f] [-l] [-x] PATTERN */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f) {
	fprintf(f, "Usage: pgrep [-f] [-l] [-x] PATTERN\n"
		   "  -f  match against the full command line\n"
		   "  -l  list the process name as well as the PID\n"
		   "  -x  require an exact match\n");
}

static ssize_t read_file(const char *path, char *buf, size_t n) {
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t got = 0;
	while (got < n - 1) {
		ssize_t r = read(fd, buf + got, n - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = 0;
	return (ssize_t)got;
}

int main(int argc, char **argv) {
	int full = 0, list = 0, exact = 0;
	const char *pattern = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (argv[i][0] == '-' && argv[i][1]) {
			for (char *p = argv[i] + 1; *p; p++) {
				switch (*p) {
				case 'f': full = 1; break;
				case 'l': list = 1; break;
				case 'x': exact = 1; break;
				default:
					fprintf(stderr, "pgrep: unknown option -%c\n", *p);
					usage(stderr);
					return 2;
				}
			}
			continue;
		}
		if (pattern) {
			fprintf(stderr, "pgrep: only one pattern can be provided\n");
			return 2;
		}
		pattern = argv[i];
	}
	if (!pattern) {
		fprintf(stderr, "pgrep: no matching criteria specified\n");
		usage(stderr);
		return 2;
	}
	char re_src[4096];
	snprintf(re_src, sizeof(re_src), exact ? "^(%s)$" : "%s", pattern);
	regex_t re;
	if (regcomp(&re, re_src, REG_EXTENDED | REG_NOSUB) != 0) {
		fprintf(stderr, "pgrep: invalid pattern %s\n", pattern);
		return 2;
	}
	DIR *d = opendir("/proc");
	if (!d) {
		perror("pgrep: /proc");
		return 3;
	}
	pid_t self = getpid();
	int found = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid == self)
			continue;
		char path[64], comm[64], cmd[4096];
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		if (read_file(path, comm, sizeof(comm)) < 0)
			continue;
		comm[strcspn(comm, "\n")] = 0;
		const char *subject = comm;
		if (full) {
			snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
			ssize_t n = read_file(path, cmd, sizeof(cmd));
			if (n <= 0)
				continue;
			for (ssize_t i = 0; i < n; i++)
				if (cmd[i] == 0)
					cmd[i] = ' ';
			while (n > 0 && cmd[n - 1] == ' ')
				cmd[--n] = 0;
			subject = cmd;
		}
		if (regexec(&re, subject, 0, NULL, 0) != 0)
			continue;
		found = 1;
		if (list)
			printf("%d %s\n", (int)pid, comm);
		else
			printf("%d\n", (int)pid);
	}
	closedir(d);
	return found ? 0 : 1;
}
