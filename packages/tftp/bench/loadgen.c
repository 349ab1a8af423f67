/*
 * Boot-storm load generator: CLIENTS simulated Pi 4s at once against one TFTP server, single-threaded, epoll.
 * Costs a few microseconds of CPU per block, so the servers (not the generator) are what the benchmark measures.
 *
 *   loadgen HOST PORT CLIENTS BLKSIZE WINDOWSIZE PROBE TIMEOUT_MS RETRIES FILES      (FILES = name:size,...)
 *
 * Per client: optional tsize probe ended by ERROR 0 "Early terminate" (like the Pi 4 bootloader), then each file
 * in order, each from a fresh socket (fresh source port, like the firmware). Prints one JSON line, the shape of
 * LoadResult in bench/load.ts; its own CPU time goes to stderr as "loadgen-cpu-seconds X". Exit 0 (boot failures
 * are in the JSON), 2 on bad arguments. Build: cc -O2 -o loadgen loadgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { RRQ = 1, DATA = 3, ACK = 4, ERR = 5, OACK = 6 }; /* RFC 1350 §5 opcodes, RFC 2347 OACK */
enum { PROBING, FETCHING, DONE };
#define MAX_FILES 64
#define MAX_ERRORS 10

typedef struct {
  int fd, state, file;           /* file: index into files[] being fetched */
  uint16_t tid;                  /* server's port for this transfer (network order), 0 = not yet known */
  uint16_t expect;               /* next DATA block wanted; wraps 65535 -> 0 like the 16-bit field */
  int blksize, window, inwin;    /* negotiated values; in-order blocks since the last ACK */
  int tries;                     /* resends since the last progress */
  uint64_t got;                  /* bytes of the current file */
  double deadline, started;      /* ms: resend time; when the RRQ was first sent */
  uint8_t last[600];             /* the last packet sent (RRQ or ACK), resent on timeout */
  int last_len;
  uint16_t last_port;            /* where `last` goes (network order) */
} client_t;

static struct { char name[256]; uint64_t size; } files[MAX_FILES];
static int nfiles, blksize, windowsize, probe, timeout_ms, retries, nclients, ep, remaining;
static struct sockaddr_in server;
static client_t *clients;
static uint64_t total_bytes;
static long retransmits, failed;
static double *file_ms;
static long nfile_ms;
static char errors[MAX_ERRORS][320];
static int nerrors;
static uint8_t rx[65536 + 4];

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void send_last(client_t *c) {
  if (c->tid && c->last_port == c->tid) { /* connected to the TID: no per-packet route lookup */
    (void)send(c->fd, c->last, c->last_len, 0);
    return;
  }
  struct sockaddr_in to = server;
  to.sin_port = c->last_port;
  /* EAGAIN or any send error behaves like a lost packet: the timeout resends it. */
  (void)sendto(c->fd, c->last, c->last_len, 0, (struct sockaddr *)&to, sizeof to);
}

static void close_socket(client_t *c) {
  if (c->fd >= 0) close(c->fd); /* close() also removes it from the epoll set */
  c->fd = -1;
}

static void fail(client_t *c, const char *fmt, const char *what, const char *detail) {
  if (c->state == DONE) return;
  close_socket(c);
  c->state = DONE;
  remaining--;
  failed++;
  if (nerrors < MAX_ERRORS) snprintf(errors[nerrors++], sizeof errors[0], fmt, what, detail);
}

/* Append a NUL-terminated string to a packet (RFC 1350 §5 / RFC 2347 §2: every field ends in a zero byte). */
static int put(uint8_t *p, int at, const char *s) {
  size_t n = strlen(s) + 1;
  if (at + n > 600) return at;
  memcpy(p + at, s, n);
  return at + (int)n;
}

/* Open a fresh socket and send the RRQ for files[c->file] (the probe asks for the first file). */
static void start_request(client_t *c, double now) {
  char num[24];
  c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    fail(c, "%s: socket: %s", files[c->file].name, strerror(errno));
    return;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)(c - clients)};
  epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
  uint8_t *p = c->last;
  p[0] = 0, p[1] = RRQ;
  int n = put(p, 2, files[c->file].name);
  n = put(p, n, "octet");
  /* RFC 2349 §4: tsize 0 in a RRQ asks the server for the size. RFC 2348: blksize. */
  n = put(p, n, "tsize"), n = put(p, n, "0");
  snprintf(num, sizeof num, "%d", blksize);
  n = put(p, n, "blksize"), n = put(p, n, num);
  if (c->state == FETCHING && windowsize > 1) { /* RFC 7440 §3: windowsize; omitted for lock-step */
    snprintf(num, sizeof num, "%d", windowsize);
    n = put(p, n, "windowsize"), n = put(p, n, num);
  }
  c->last_len = n;
  c->last_port = server.sin_port;
  c->tid = 0, c->expect = 1, c->got = 0, c->tries = 0, c->inwin = 0;
  c->blksize = 512, c->window = 1; /* RFC 1350 defaults, used if the server answers without an OACK */
  c->started = now, c->deadline = now + timeout_ms;
  send_last(c);
}

static void send_ack(client_t *c, uint16_t block) {
  c->last[0] = 0, c->last[1] = ACK, c->last[2] = block >> 8, c->last[3] = block & 0xff;
  c->last_len = 4;
  c->last_port = c->tid;
  c->inwin = 0;
  send_last(c);
}

/* Value of option `name` in an OACK body (RFC 2347 §2: pairs of NUL-terminated strings), or -1. */
static long long oack_option(const uint8_t *p, int len, const char *name) {
  int i = 2;
  while (i < len) {
    const char *k = (const char *)p + i;
    const uint8_t *kz = memchr(p + i, 0, len - i);
    if (!kz) break;
    const char *v = (const char *)kz + 1;
    const uint8_t *vz = memchr(kz + 1, 0, len - (kz + 1 - p));
    if (!vz) break;
    if (strcasecmp(k, name) == 0) return strtoll(v, NULL, 10);
    i = (int)(vz + 1 - p);
  }
  return -1;
}

static void handle(client_t *c, int len, uint16_t from_port, double now) {
  if (len < 4) return;
  if (c->tid == 0) {                          /* RFC 1350 §4: the first reply's source port is the server TID */
    struct sockaddr_in to = server;
    to.sin_port = c->tid = from_port;
    connect(c->fd, (struct sockaddr *)&to, sizeof to); /* the kernel now drops other TIDs for us */
  } else if (from_port != c->tid) return;    /* RFC 1350 §4: another TID -> not ours (no ERROR 5, just ignore) */
  const char *name = files[c->file].name;
  int op = rx[1] | rx[0] << 8;
  if (op == ERR) {                            /* RFC 1350 §5: ERROR ends the transfer */
    char msg[200];
    int at = snprintf(msg, sizeof msg, "%d ", rx[3] | rx[2] << 8);
    int mlen = len - 4 < (int)sizeof msg - 1 - at ? len - 4 : (int)sizeof msg - 1 - at;
    memcpy(msg + at, rx + 4, mlen);
    msg[at + mlen] = 0; /* the message may lack its NUL: stop at the first one or at the packet end */
    fail(c, "%s: ERROR %s", name, msg);
    return;
  }
  if (c->state == PROBING) {
    if (op != OACK) { fail(c, "%s: probe got opcode %s instead of OACK", name, op == DATA ? "DATA" : "?"); return; }
    long long ts = oack_option(rx, len, "tsize");
    if (ts < 0 || (uint64_t)ts != files[0].size) { fail(c, "%s: probe tsize mismatch%s", name, ""); return; }
    /* RFC 2347 §4 (the Pi 4 way): decline the OACK with an ERROR, code 0, to the server's TID. */
    static const char early[] = "\0\5\0\0Early terminate";
    memcpy(c->last, early, sizeof early), c->last_len = sizeof early, c->last_port = c->tid;
    send_last(c);
    close_socket(c);
    c->state = FETCHING;
    start_request(c, now);
    return;
  }
  if (op == OACK) {
    if (c->expect != 1 || c->got != 0) return; /* stale OACK after DATA began */
    long long b = oack_option(rx, len, "blksize"), w = oack_option(rx, len, "windowsize");
    c->blksize = b > 0 ? (int)b : 512;       /* RFC 2348: the server may lower blksize; absent -> 512 */
    c->window = w > 0 ? (int)w : 1;          /* RFC 7440 §3: absent windowsize -> lock-step */
    send_ack(c, 0);                          /* RFC 2347 §4: the client acknowledges an OACK with ACK 0 */
    c->tries = 0, c->deadline = now + timeout_ms;
    return;
  }
  if (op != DATA) return;
  uint16_t n = rx[3] | rx[2] << 8;
  if (n != c->expect) {
    /* An older block (16-bit distance "behind") is a duplicate: re-ACK so a server waiting on a timeout
     * proceeds (RFC 1350 §6 does not ACK duplicates, but RFC 7440 §4 re-ACKs; Pis do). Newer ones (a gap in a
     * window) are ignored: the timeout re-ACKs the last in-order block (RFC 7440 §4). */
    if ((uint16_t)(c->expect - n) <= 0x8000 && c->last_len == 4) send_last(c);
    return;
  }
  int payload = len - 4;
  c->got += payload;
  c->expect++;                                /* wraps 65535 -> 0 (uint16_t) */
  c->tries = 0, c->deadline = now + timeout_ms;
  if (payload < c->blksize) {                 /* RFC 1350 §6: a short DATA is the last one */
    send_ack(c, n);
    file_ms[nfile_ms++] = now_ms() - c->started;
    if (c->got != files[c->file].size) {
      char d[64];
      snprintf(d, sizeof d, "got %llu bytes, want %llu", (unsigned long long)c->got,
               (unsigned long long)files[c->file].size);
      fail(c, "%s: %s", name, d);
      return;
    }
    total_bytes += c->got;
    close_socket(c);
    if (++c->file == nfiles) c->state = DONE, remaining--;
    else start_request(c, now);
    return;
  }
  /* RFC 1350 §6: lock-step ACKs every block; RFC 7440 §4: ACK the last block of each window. */
  if (++c->inwin >= c->window) send_ack(c, n);
}

static int parse_int(const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *s == 0 || *end || v < lo || v > hi) return 0;
  *out = v;
  return 1;
}

static int parse_files(char *s) {
  for (char *save, *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    char *colon = strrchr(tok, ':'), *end;
    if (!colon || colon == tok || nfiles == MAX_FILES || (size_t)(colon - tok) >= sizeof files[0].name) return 0;
    errno = 0;
    unsigned long long size = strtoull(colon + 1, &end, 10);
    if (errno || colon[1] == 0 || *end) return 0;
    *colon = 0;
    strcpy(files[nfiles].name, tok);
    files[nfiles++].size = size;
  }
  return nfiles > 0;
}

static void json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') printf("\\%c", ch);
    else if (ch < 0x20 || ch >= 0x7f) printf("\\u%04x", ch); /* server text may be any bytes: keep JSON valid */
    else putchar(ch);
  }
  putchar('"');
}

int main(int argc, char **argv) {
  long v[7];
  static const long lo[7] = {1, 1, 8, 1, 0, 1, 0}, hi[7] = {65535, 100000, 65464, 65535, 1, 600000, 1000};
  int ok = argc == 10 && inet_pton(AF_INET, argv[1], &server.sin_addr) == 1;
  for (int i = 0; ok && i < 7; i++) ok = parse_int(argv[i + 2], lo[i], hi[i], &v[i]);
  if (!ok || !parse_files(argv[9])) {
    fprintf(stderr, "usage: loadgen HOST PORT CLIENTS BLKSIZE WINDOWSIZE PROBE TIMEOUT_MS RETRIES name:size,...\n");
    return 2;
  }
  server.sin_family = AF_INET, server.sin_port = htons((uint16_t)v[0]);
  nclients = (int)v[1], blksize = (int)v[2], windowsize = (int)v[3], probe = (int)v[4];
  timeout_ms = (int)v[5], retries = (int)v[6];

  struct rlimit rl; /* one socket per client at a time: make room for large N */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  clients = calloc(nclients, sizeof *clients);
  file_ms = calloc((size_t)nclients * nfiles, sizeof *file_ms);
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (!clients || !file_ms || ep < 0) { perror("loadgen"); return 1; }

  double t0 = now_ms(), run_deadline = t0 + (nclients * 2000.0 > 120000 ? nclients * 2000.0 : 120000);
  remaining = nclients;
  for (int i = 0; i < nclients; i++) {          /* every Pi powers on at once */
    clients[i].fd = -1;
    clients[i].state = probe ? PROBING : FETCHING;
    start_request(&clients[i], t0);
  }
  struct epoll_event evs[256];
  double next_scan = t0;
  while (remaining > 0) {
    int ne = epoll_wait(ep, evs, 256, 5);
    double now = now_ms();
    for (int e = 0; e < ne; e++) {
      client_t *c = &clients[evs[e].data.u32];
      /* Drain (bounded, for fairness): level-triggered epoll reports what is left next round. */
      for (int k = 0; k < 64 && c->fd >= 0; k++) {
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t len = recvfrom(c->fd, rx, sizeof rx, 0, (struct sockaddr *)&from, &fl);
        if (len < 0) break; /* EAGAIN, or an ICMP error: the timeout deals with it */
        if (from.sin_addr.s_addr != server.sin_addr.s_addr) continue;
        handle(c, (int)len, from.sin_port, now);
      }
    }
    if (now < next_scan) continue;
    next_scan = now + 5;
    for (int i = 0; i < nclients; i++) {
      client_t *c = &clients[i];
      if (c->state == DONE) continue;
      if (now > run_deadline) { fail(c, "%s: %s", files[c->file].name, "run deadline"); continue; }
      if (now < c->deadline) continue;
      if (c->tries++ >= retries) { fail(c, "%s: %s", files[c->file].name, "timeout"); continue; }
      retransmits++;                            /* RFC 1350 §2: on timeout resend the last packet */
      c->deadline = now + timeout_ms;
      send_last(c);
    }
  }

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("{\"wallMs\":%.3f,\"bytes\":%llu,\"fileMs\":[", now_ms() - t0, (unsigned long long)total_bytes);
  for (long i = 0; i < nfile_ms; i++) printf("%s%.3f", i ? "," : "", file_ms[i]);
  printf("],\"retransmits\":%ld,\"failedBoots\":%ld,\"errors\":[", retransmits, failed);
  for (int i = 0; i < nerrors; i++) {
    if (i) putchar(',');
    json_string(errors[i]);
  }
  printf("]}\n");
  fprintf(stderr, "loadgen-cpu-seconds %.3f\n", ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
                                                    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
  return 0;
}
