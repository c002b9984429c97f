/* ipcs: the subset of util-linux ipcs that the CRI validation suite uses.
 * Debian's busybox has no ipcs applet. It reads the files in /proc/sysvipc, which
 * shows the IPC namespace of the reading process.
 * usage: ipcs [-m] [-q] [-s] [-a] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void owner_name(unsigned uid, char *out, size_t n) {
	snprintf(out, n, "%u", uid);
	FILE *f = fopen("/etc/passwd", "r");
	if (!f)
		return;
	char line[1024];
	while (fgets(line, sizeof(line), f)) {
		char *name = strtok(line, ":");
		strtok(NULL, ":");
		char *id = strtok(NULL, ":");
		if (name && id && (unsigned)strtoul(id, NULL, 10) == uid) {
			snprintf(out, n, "%s", name);
			break;
		}
	}
	fclose(f);
}

static void shm(void) {
	printf("\n------ Shared Memory Segments --------\n");
	printf("%-10s %-10s %-10s %-10s %-10s %-10s %-12s\n", "key", "shmid", "owner", "perms", "bytes", "nattch", "status");
	FILE *f = fopen("/proc/sysvipc/shm", "r");
	if (!f)
		return;
	char line[1024];
	if (!fgets(line, sizeof(line), f)) { /* header */
		fclose(f);
		return;
	}
	long long key, id, size, cpid, lpid, nattch;
	unsigned perms, uid;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lld %lld %o %lld %lld %lld %lld %u", &key, &id, &perms, &size, &cpid, &lpid, &nattch, &uid) != 8)
			continue;
		char owner[64];
		owner_name(uid, owner, sizeof(owner));
		printf("0x%08x %-10lld %-10s %-10o %-10lld %-10lld %-12s\n", (unsigned)key, id, owner, perms & 0777, size, nattch,
		       (perms & 01000) ? "dest" : "");
	}
	fclose(f);
}

static void sem(void) {
	printf("\n------ Semaphore Arrays --------\n");
	printf("%-10s %-10s %-10s %-10s %-10s\n", "key", "semid", "owner", "perms", "nsems");
	FILE *f = fopen("/proc/sysvipc/sem", "r");
	if (!f)
		return;
	char line[1024];
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return;
	}
	long long key, id, nsems;
	unsigned perms, uid;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lld %lld %o %lld %u", &key, &id, &perms, &nsems, &uid) != 5)
			continue;
		char owner[64];
		owner_name(uid, owner, sizeof(owner));
		printf("0x%08x %-10lld %-10s %-10o %-10lld\n", (unsigned)key, id, owner, perms & 0777, nsems);
	}
	fclose(f);
}

static void msg(void) {
	printf("\n------ Message Queues --------\n");
	printf("%-10s %-10s %-10s %-10s %-12s %-12s\n", "key", "msqid", "owner", "perms", "used-bytes", "messages");
	FILE *f = fopen("/proc/sysvipc/msg", "r");
	if (!f)
		return;
	char line[1024];
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return;
	}
	long long key, id, cbytes, qnum, lspid, lrpid;
	unsigned perms, uid;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lld %lld %o %lld %lld %lld %lld %u", &key, &id, &perms, &cbytes, &qnum, &lspid, &lrpid, &uid) != 8)
			continue;
		char owner[64];
		owner_name(uid, owner, sizeof(owner));
		printf("0x%08x %-10lld %-10s %-10o %-12lld %-12lld\n", (unsigned)key, id, owner, perms & 0777, cbytes, qnum);
	}
	fclose(f);
}

int main(int argc, char **argv) {
	int m = 0, q = 0, s = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("Usage: ipcs [-m] [-q] [-s] [-a]\n");
			return 0;
		}
		if (argv[i][0] != '-') {
			fprintf(stderr, "ipcs: unexpected argument %s\n", argv[i]);
			return 1;
		}
		for (char *p = argv[i] + 1; *p; p++) {
			switch (*p) {
			case 'm': m = 1; break;
			case 'q': q = 1; break;
			case 's': s = 1; break;
			case 'a': m = q = s = 1; break;
			default:
				fprintf(stderr, "ipcs: unknown option -%c\n", *p);
				return 1;
			}
		}
	}
	if (!m && !q && !s)
		m = q = s = 1;
	if (q)
		msg();
	if (m)
		shm();
	if (s)
		sem();
	printf("\n");
	return 0;
}
