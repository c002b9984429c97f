#define _GNU_SOURCE
/* webserver: stands in for nginx (built with -DNGINX) and Apache httpd
 * (built with -DHTTPD) in the test images. It answers every HTTP request
 * with the product's default page, which is all the CRI validation suite
 * looks at. As nginx it also renames itself so that comm is "nginx" and
 * the command line is "nginx: master process nginx -g daemon off;", and it
 * writes /var/run/nginx.pid, because the PID-namespace tests look for them.
 * The port is 80 unless /etc/crio-test/port holds another number. */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#if defined(NGINX)
#define TITLE "nginx: master process nginx -g daemon off;"
static const char body[] =
	"<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head>\n<body>\n"
	"<h1>Welcome to nginx!</h1>\n<p>If you see this page, the nginx web server is successfully installed and\n"
	"working. Further configuration is required.</p>\n</body>\n</html>\n";
#elif defined(HTTPD)
static const char body[] = "<html><body><h1>It works!</h1></body></html>\n";
#else
#error "build with -DNGINX or -DHTTPD"
#endif

static void on_term(int sig) {
	(void)sig;
	_exit(0);
}

static int listen_port(void) {
	FILE *f = fopen("/etc/crio-test/port", "r");
	int port = 80;
	if (f) {
		if (fscanf(f, "%d", &port) != 1 || port <= 0 || port > 65535)
			port = 80;
		fclose(f);
	}
	return port;
}

static int open_listener(int port) {
	int one = 1, zero = 0;
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		struct sockaddr_in6 a6;
		memset(&a6, 0, sizeof(a6));
		a6.sin6_family = AF_INET6;
		a6.sin6_port = htons((unsigned short)port);
		a6.sin6_addr = in6addr_any;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (bind(fd, (struct sockaddr *)&a6, sizeof(a6)) == 0 && listen(fd, 128) == 0)
			return fd;
		close(fd);
	}
	/* No IPv6 in this network namespace: IPv4 only. */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a4;
	memset(&a4, 0, sizeof(a4));
	a4.sin_family = AF_INET;
	a4.sin_port = htons((unsigned short)port);
	a4.sin_addr.s_addr = htonl(INADDR_ANY);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a4, sizeof(a4)) != 0 || listen(fd, 128) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void serve(int c) {
	/* A stuck client must not block the single-threaded loop for long. */
	struct timeval tv = {5, 0};
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	char req[8192];
	size_t got = 0;
	while (got < sizeof(req) - 1) {
		ssize_t n = read(c, req + got, sizeof(req) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		req[got] = 0;
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	int head = strncmp(req, "HEAD ", 5) == 0;
	char hdr[256];
	int hl = snprintf(hdr, sizeof(hdr),
			  "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			  sizeof(body) - 1);
	if (write(c, hdr, (size_t)hl) == hl && !head) {
		ssize_t w = write(c, body, sizeof(body) - 1);
		(void)w;
	}
	close(c);
}

int main(int argc, char **argv) {
	(void)argc;
#if defined(NGINX)
	if (strcmp(argv[0], TITLE) != 0) {
		/* Re-exec under the title: comm comes from the file name (nginx)
		 * and /proc/PID/cmdline from argv. */
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n > 0) {
			self[n] = 0;
			char *nargv[] = {TITLE, NULL};
			execv(self, nargv);
		}
	}
	prctl(PR_SET_NAME, "nginx", 0, 0, 0);
#else
	(void)argv;
#endif
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	int port = listen_port();
	int fd = open_listener(port);
	if (fd < 0) {
		fprintf(stderr, "listen on port %d: %s\n", port, strerror(errno));
		return 1;
	}
#if defined(NGINX)
	FILE *pf = fopen("/var/run/nginx.pid", "w");
	if (pf) {
		fprintf(pf, "%d\n", (int)getpid());
		fclose(pf);
	}
#else
	fprintf(stderr, "[core:notice] [pid %d] AH00094: Command line: 'httpd -D FOREGROUND' (httpd listening on port %d)\n",
		(int)getpid(), port);
#endif
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("accept");
			return 1;
		}
		serve(c);
	}
}
