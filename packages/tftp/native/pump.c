/*
 * @bramble/tftp native data pump (optional; the TypeScript Sender in src/sender.ts is the reference and the
 * fallback). It runs the DATA/ACK phase of read transfers whose source is a file descriptor or an in-memory
 * buffer of known size, on one or more epoll threads, without a trip through the JavaScript event loop per
 * block. Everything before the first packet (request parsing, remap, handler, path checks, RFC 2347
 * negotiation) and everything after (events, logging, limits) stays in TypeScript; this file only moves
 * blocks. Its rules mirror src/sender.ts line for line:
 *
 *  - RFC 1350 §2/§6: lock-step DATA n / ACK n; the last DATA is shorter than blksize (0 bytes if the size is
 *    a multiple of it); the transfer ends with the ACK of the last block.
 *  - RFC 7440 §4: up to `windowsize` blocks in flight; an ACK of any block in the window acknowledges up to
 *    it and the blocks after it are sent again; on timeout the window restarts after the last ACK.
 *  - RFC 1123 §4.2.3.1 (Sorcerer's Apprentice): a duplicate ACK never triggers a resend; only timeouts do,
 *    with exponential backoff (doubling, capped at max(16 s, timeout)) and a retry limit.
 *  - RFC 2347 §2: after an OACK the client answers ACK 0 (the OACK is resent on timeout until it does).
 *  - RFC 1350 §4: a packet from another TID gets ERROR 5 and does not disturb the transfer; a client ERROR
 *    ends the transfer at once (reported as aborted: firmware "early terminate" probes).
 *  - Block numbers roll over after 65535 to 0 or 1 (src/block.ts); the "refuse" policy is applied in
 *    TypeScript before a transfer is handed over.
 *  - When only the final ACK never arrives, the transfer counts as complete with `finalAckMissing`.
 *  - A transfer whose client never answered its first packet gives up `firstReplyTimeoutMs` after it started
 *    (spoofed requests hold a slot only briefly); ICMP port unreachable from the client (IP_RECVERR) ends a
 *    transfer at once.
 *  - Memory: a file transfer reads ahead at most `chunkBytes` (sized by the server's buffer budget) and frees
 *    it while the client stalls; blocks in flight are never kept (sendmsg copies them; a retransmission reads
 *    them again).
 *
 * Build: scripts/build-native.mjs (cc -O2 -shared, Node-API 8 headers shipped with Node; no node-gyp).
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <node_api.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* RFC 1350 §5 opcodes and error codes used here. */
enum { OP_RRQ = 1, OP_WRQ = 2, OP_DATA = 3, OP_ACK = 4, OP_ERROR = 5, OP_OACK = 6 };
enum { ERR_NOT_DEFINED = 0, ERR_ILLEGAL = 4, ERR_UNKNOWN_TID = 5 };
/* Outcomes reported to JavaScript. */
enum { ST_COMPLETE = 0, ST_ABORTED = 1, ST_FAILED = 2, ST_CANCELLED = 3 };

#define MAX_BACKOFF_MS 16000.0
#define MAX_WORKERS 16
#define MAX_EVENTS 256

typedef struct transfer transfer;
typedef struct worker worker;

struct transfer {
  uint32_t id;
  int sock;
  struct sockaddr_in peer;
  worker *w;
  /* Source: a file descriptor (positioned reads into `chunk`) or an in-memory buffer. */
  int fd;
  const uint8_t *data;
  napi_ref data_ref; /* keeps the JS buffer alive; released on the JS thread */
  uint64_t size;
  uint8_t *chunk;
  size_t chunk_cap, chunk_len;
  uint64_t chunk_pos;
  int chunk_valid;
  /* Negotiated parameters. */
  uint32_t blksize, window, retries, roll_to;
  double timeout_ms, cur_timeout_ms;
  uint8_t *initial; /* OACK to (re)send until ACK 0; NULL => start with DATA 1 */
  size_t initial_len;
  int awaiting_ack0;
  /* Sender state (logical block numbers never wrap). */
  uint64_t last_acked, next_to_send, sent_up_to, final_block; /* final_block 0 = not yet known */
  uint32_t last_short, tries;
  double deadline;
  /* No packet from the client yet: give up at first_deadline (0 = no such bound). */
  int heard;
  double first_ms, first_deadline;
  /* Results. */
  uint64_t bytes, blocks, retransmits;
  int done, status, final_ack_missing, cancel_requested;
  int err_code;
  char kind[24];
  char message[256];
  transfer *next_cmd; /* command queue link */
};

struct worker {
  pthread_t thread;
  int ep, evfd;
  pthread_mutex_t mu;
  transfer *queue_head, *queue_tail; /* new transfers */
  uint32_t *cancels;
  size_t ncancels, cap_cancels;
  transfer **list;
  size_t n, cap;
  double next_check;
  int stop;
  napi_threadsafe_function tsfn;
};

typedef struct engine {
  worker workers[MAX_WORKERS];
  int nworkers;
  int started;
  uint32_t active; /* transfers handed over and not yet reported (JS thread only) */
  napi_ref on_done;
  napi_threadsafe_function tsfn;
} engine;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Wire number of logical block n (src/block.ts wireBlock). */
static uint16_t wire_block(uint64_t n, uint32_t to) {
  if (n <= 0xffff) return (uint16_t)n;
  if (to == 0) return (uint16_t)(n & 0xffff);
  return (uint16_t)(((n - 0x10000) % 0xffff) + 1);
}

static void send_error_to(int sock, const struct sockaddr_in *to, int code, const char *msg) {
  uint8_t pkt[260];
  size_t m = strlen(msg);
  if (m > 250) m = 250;
  pkt[0] = 0;
  pkt[1] = OP_ERROR;
  pkt[2] = (uint8_t)(code >> 8);
  pkt[3] = (uint8_t)code;
  memcpy(pkt + 4, msg, m);
  pkt[4 + m] = 0;
  (void)sendto(sock, pkt, 5 + m, MSG_DONTWAIT, (const struct sockaddr *)to, sizeof *to);
}

static void finish(transfer *t, int status, const char *kind, const char *msg) {
  if (t->done) return;
  t->done = 1;
  t->status = status;
  snprintf(t->kind, sizeof t->kind, "%s", kind ? kind : "");
  snprintf(t->message, sizeof t->message, "%s", msg ? msg : "");
}

static void arm(transfer *t) {
  if (t->done) return;
  t->deadline = now_ms() + t->cur_timeout_ms;
  if (!t->heard && t->first_deadline > 0 && t->deadline > t->first_deadline) t->deadline = t->first_deadline;
  if (t->deadline < t->w->next_check) t->w->next_check = t->deadline;
}

static void progress(transfer *t) {
  t->tries = 0;
  t->cur_timeout_ms = t->timeout_ms;
}

/* Payload of block b: pointer and length (0..blksize), or -1 on a read error. */
static long block_data(transfer *t, uint64_t b, const uint8_t **out) {
  uint64_t pos = (b - 1) * (uint64_t)t->blksize;
  uint64_t want = pos >= t->size ? 0 : t->size - pos;
  if (want > t->blksize) want = t->blksize;
  if (t->data) {
    *out = t->data + (pos < t->size ? pos : t->size);
    return (long)want;
  }
  if (!(t->chunk && t->chunk_valid && pos >= t->chunk_pos && pos + want <= t->chunk_pos + t->chunk_len)) {
    if (!t->chunk) {
      t->chunk = malloc(t->chunk_cap);
      if (!t->chunk) return -1;
    }
    /* Refill from `pos` (a retransmitted window may start before the current chunk). */
    size_t got = 0;
    for (int i = 0; i < 1024 && got < t->chunk_cap; i++) {
      ssize_t r = pread(t->fd, t->chunk + got, t->chunk_cap - got, (off_t)(pos + got));
      if (r < 0) {
        if (errno == EINTR) continue;
        return -1;
      }
      if (r == 0) break;
      got += (size_t)r;
    }
    t->chunk_pos = pos;
    t->chunk_len = got;
    t->chunk_valid = 1;
  }
  uint64_t rel = pos - t->chunk_pos;
  uint64_t avail = t->chunk_len > rel ? t->chunk_len - rel : 0;
  if (want > avail) want = avail; /* the file shrank: a short block ends the transfer */
  *out = t->chunk + rel;
  return (long)want;
}

/* Send every block the window allows, then (re)arm the timeout. */
static void pump(transfer *t) {
  uint8_t hdr[4];
  struct iovec iov[2];
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_name = &t->peer;
  mh.msg_namelen = sizeof t->peer;
  mh.msg_iov = iov;
  mh.msg_iovlen = 2;
  iov[0].iov_base = hdr;
  iov[0].iov_len = 4;
  while (!t->done) {
    uint64_t b = t->next_to_send;
    if (b > t->last_acked + t->window) break;
    if (t->final_block && b > t->final_block) break;
    const uint8_t *p;
    long len = block_data(t, b, &p);
    if (len < 0) {
      send_error_to(t->sock, &t->peer, ERR_NOT_DEFINED, "Read error");
      finish(t, ST_FAILED, "SOURCE_ERROR", "reading the source failed");
      return;
    }
    if ((uint32_t)len < t->blksize) {
      t->final_block = b;
      t->last_short = (uint32_t)len;
    }
    uint16_t wb = wire_block(b, t->roll_to);
    hdr[0] = 0;
    hdr[1] = OP_DATA;
    hdr[2] = (uint8_t)(wb >> 8);
    hdr[3] = (uint8_t)wb;
    iov[1].iov_base = (void *)p;
    iov[1].iov_len = (size_t)len;
    if (b <= t->sent_up_to) t->retransmits++;
    else t->sent_up_to = b;
    t->next_to_send = b + 1;
    /* A failed send (full socket buffer) is a lost packet: the timeout resends it. */
    (void)sendmsg(t->sock, &mh, MSG_DONTWAIT);
  }
  arm(t);
}

static void acked(transfer *t, uint64_t n) {
  t->blocks = n;
  t->bytes = n == t->final_block ? (n - 1) * (uint64_t)t->blksize + t->last_short : n * (uint64_t)t->blksize;
}

static void on_ack(transfer *t, uint16_t wire) {
  if (t->done) return;
  if (t->awaiting_ack0) {
    if (wire != 0) return; /* RFC 2347 §2: the OACK is answered by ACK 0 */
    t->awaiting_ack0 = 0;
    progress(t);
    pump(t);
    return;
  }
  /* RFC 7440 §4: find which block in flight this ACK names; anything else is a duplicate (ignored). */
  uint64_t n = 0;
  for (uint64_t b = t->last_acked + 1; b <= t->sent_up_to; b++) {
    if (wire_block(b, t->roll_to) == wire) {
      n = b;
      break;
    }
  }
  if (n == 0) return; /* RFC 1123 §4.2.3.1: never resend on a duplicate ACK */
  acked(t, n);
  t->last_acked = n;
  t->next_to_send = n + 1;
  progress(t);
  if (t->final_block && n >= t->final_block) {
    finish(t, ST_COMPLETE, "", "");
    return;
  }
  pump(t);
}

static void drop_chunk(transfer *t) {
  free(t->chunk);
  t->chunk = NULL;
  t->chunk_valid = 0;
}

static void on_timeout(transfer *t) {
  if (t->done) return;
  t->tries++;
  if (!t->heard && t->first_deadline > 0 && now_ms() >= t->first_deadline - 1) {
    char msg[80];
    snprintf(msg, sizeof msg, "no ACK to the first packet within %.0f ms", t->first_ms);
    finish(t, ST_FAILED, "TIMEOUT", msg);
    return;
  }
  if (t->tries > t->retries) {
    if (t->final_block && t->sent_up_to == t->final_block && t->last_acked == t->final_block - 1) {
      /* Only the final ACK is missing (RFC 1350 §6 lets the receiver stop after its last ACK). */
      t->final_ack_missing = 1;
      acked(t, t->final_block);
      finish(t, ST_COMPLETE, "", "");
      return;
    }
    char msg[64];
    snprintf(msg, sizeof msg, "no ACK after %u retransmissions", t->retries);
    finish(t, ST_FAILED, "TIMEOUT", msg);
    return;
  }
  drop_chunk(t); /* a stalled client holds no read-ahead: the window is read again when resent */
  double cap = t->timeout_ms > MAX_BACKOFF_MS ? t->timeout_ms : MAX_BACKOFF_MS;
  t->cur_timeout_ms = t->cur_timeout_ms * 2 < cap ? t->cur_timeout_ms * 2 : cap;
  if (t->awaiting_ack0 && t->initial) {
    t->retransmits++;
    (void)sendto(t->sock, t->initial, t->initial_len, MSG_DONTWAIT, (struct sockaddr *)&t->peer, sizeof t->peer);
    arm(t);
    return;
  }
  t->next_to_send = t->last_acked + 1;
  pump(t);
}

/*
 * Drain the socket's error queue (IP_RECVERR); true when it holds an ICMP port unreachable for a datagram
 * sent to the client (msg_name is the original destination; errors about other TIDs are ignored).
 */
static int client_unreachable(transfer *t) {
  int unreachable = 0;
  for (int i = 0; i < 64; i++) {
    uint8_t data[64];
    char control[512];
    struct sockaddr_in to;
    struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_name = &to;
    mh.msg_namelen = sizeof to;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    if (recvmsg(t->sock, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_RECVERR) continue;
      struct sock_extended_err ee;
      memcpy(&ee, CMSG_DATA(c), sizeof ee);
      if (ee.ee_origin == SO_EE_ORIGIN_ICMP && ee.ee_errno == ECONNREFUSED &&
          to.sin_port == t->peer.sin_port && to.sin_addr.s_addr == t->peer.sin_addr.s_addr)
        unreachable = 1;
    }
  }
  return unreachable;
}

static void on_readable(transfer *t, uint32_t events) {
  uint8_t buf[600];
  struct sockaddr_in from;
  socklen_t fl = sizeof from;
  if (events & EPOLLERR) {
    if (client_unreachable(t)) finish(t, ST_FAILED, "UNREACHABLE", "ICMP port unreachable from the client");
    if (!(events & EPOLLIN)) return;
  }
  ssize_t len = recvfrom(t->sock, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
  if (len < 0 && errno == ECONNREFUSED && client_unreachable(t))
    finish(t, ST_FAILED, "UNREACHABLE", "ICMP port unreachable from the client");
  if (len < 0 || t->done) return;
  if (from.sin_port != t->peer.sin_port || from.sin_addr.s_addr != t->peer.sin_addr.s_addr) {
    /* RFC 1350 §4: another TID gets ERROR 5 (never answer an ERROR with an ERROR). */
    if (!(len >= 2 && buf[0] == 0 && buf[1] == OP_ERROR))
      send_error_to(t->sock, &from, ERR_UNKNOWN_TID, "Unknown transfer ID");
    return;
  }
  if (len < 2 || buf[0] != 0) return; /* unknown opcode: dropped */
  if (buf[1] == OP_ACK || buf[1] == OP_ERROR) t->heard = 1;
  switch (buf[1]) {
    case OP_ACK:
      if (len >= 4) on_ack(t, (uint16_t)((buf[2] << 8) | buf[3]));
      break;
    case OP_ERROR: {
      /* A client ERROR ends the transfer at once: an abort (firmware size probes), not a failure. */
      t->err_code = len >= 4 ? (buf[2] << 8) | buf[3] : 0;
      char msg[256];
      size_t m = 0;
      for (ssize_t i = 4; i < len && buf[i] != 0 && m < sizeof msg - 1; i++) msg[m++] = (char)buf[i];
      msg[m] = 0;
      finish(t, ST_ABORTED, "REMOTE_ERROR", msg);
      break;
    }
    case OP_DATA:
    case OP_OACK:
      send_error_to(t->sock, &t->peer, ERR_ILLEGAL, "Illegal TFTP operation");
      finish(t, ST_FAILED, "PROTOCOL", buf[1] == OP_DATA ? "DATA during a read transfer" : "OACK sent to a server");
      break;
    default:
      break; /* RRQ/WRQ from the same TID: a duplicate request; others: dropped */
  }
}

static void worker_take_commands(worker *w) {
  uint64_t v;
  (void)read(w->evfd, &v, sizeof v);
  pthread_mutex_lock(&w->mu);
  transfer *q = w->queue_head;
  w->queue_head = w->queue_tail = NULL;
  uint32_t *cancels = w->cancels;
  size_t nc = w->ncancels;
  w->cancels = NULL;
  w->ncancels = w->cap_cancels = 0;
  pthread_mutex_unlock(&w->mu);
  while (q) {
    transfer *t = q;
    q = q->next_cmd;
    if (w->n == w->cap) {
      size_t cap = w->cap ? w->cap * 2 : 64;
      transfer **l = realloc(w->list, cap * sizeof *l);
      if (!l) {
        finish(t, ST_FAILED, "NO_MEMORY", "out of memory");
        close(t->sock);
        t->sock = -1;
        free(t->chunk);
        t->chunk = NULL;
        napi_call_threadsafe_function(w->tsfn, t, napi_tsfn_nonblocking);
        continue;
      }
      w->list = l;
      w->cap = cap;
    }
    w->list[w->n++] = t;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = t};
    epoll_ctl(w->ep, EPOLL_CTL_ADD, t->sock, &ev);
    if (t->first_ms > 0) t->first_deadline = now_ms() + t->first_ms;
    if (t->initial) {
      (void)sendto(t->sock, t->initial, t->initial_len, MSG_DONTWAIT, (struct sockaddr *)&t->peer, sizeof t->peer);
      arm(t);
    } else {
      pump(t);
    }
  }
  for (size_t i = 0; i < nc; i++) {
    for (size_t j = 0; j < w->n; j++) {
      transfer *t = w->list[j];
      if (t->id == cancels[i] && !t->done) {
        send_error_to(t->sock, &t->peer, ERR_NOT_DEFINED, "Server shutting down");
        finish(t, ST_CANCELLED, "SHUTDOWN", "server closed before the transfer finished");
      }
    }
  }
  free(cancels);
}

/* Remove finished transfers and hand them to the JS thread. */
static void worker_reap(worker *w) {
  size_t k = 0;
  for (size_t i = 0; i < w->n; i++) {
    transfer *t = w->list[i];
    if (!t->done) {
      w->list[k++] = t;
      continue;
    }
    epoll_ctl(w->ep, EPOLL_CTL_DEL, t->sock, NULL);
    close(t->sock);
    t->sock = -1;
    free(t->chunk);
    t->chunk = NULL;
    napi_call_threadsafe_function(w->tsfn, t, napi_tsfn_nonblocking);
  }
  w->n = k;
}

static void scan_timeouts(worker *w, double now) {
  double next = now + 1000;
  for (size_t i = 0; i < w->n; i++) {
    transfer *t = w->list[i];
    if (t->done) continue;
    if (t->deadline <= now + 0.5) on_timeout(t);
    if (!t->done && t->deadline < next) next = t->deadline;
  }
  w->next_check = next;
}

static void *worker_main(void *arg) {
  worker *w = arg;
  struct epoll_event evs[MAX_EVENTS];
  w->next_check = now_ms() + 1000;
  while (!w->stop) {
    double now = now_ms();
    double wait = w->next_check - now;
    int timeout = wait <= 0 ? 0 : wait > 1000 ? 1000 : (int)wait + 1;
    int k = epoll_wait(w->ep, evs, MAX_EVENTS, timeout);
    int dirty = 0;
    for (int i = 0; i < k; i++) {
      if (evs[i].data.ptr == NULL) {
        worker_take_commands(w);
        dirty = 1;
      } else {
        transfer *t = evs[i].data.ptr;
        on_readable(t, evs[i].events);
        if (t->done) dirty = 1;
      }
    }
    now = now_ms();
    if (now >= w->next_check) {
      scan_timeouts(w, now);
      dirty = 1;
    }
    if (dirty) worker_reap(w);
  }
  return NULL;
}

/* ---- JavaScript side ---------------------------------------------------------------------------------- */

#define CHECK(env, call)                                                     \
  do {                                                                       \
    if ((call) != napi_ok) {                                                 \
      napi_throw_error((env), "ERR_BRAMBLE_PUMP", "Node-API call failed: " #call); \
      return NULL;                                                           \
    }                                                                        \
  } while (0)

static const char *status_name(int s) {
  switch (s) {
    case ST_COMPLETE: return "complete";
    case ST_ABORTED: return "aborted";
    case ST_CANCELLED: return "cancelled";
    default: return "failed";
  }
}

/* Runs on the JS thread for every finished transfer: onDone(result). */
static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  engine *e = context;
  transfer *t = data;
  if (env != NULL) {
    napi_value obj, v, undefined, fn;
    napi_create_object(env, &obj);
#define SET_NUM(name, val)                     \
  napi_create_double(env, (double)(val), &v); \
  napi_set_named_property(env, obj, name, v);
#define SET_STR(name, val)                                        \
  napi_create_string_utf8(env, (val), NAPI_AUTO_LENGTH, &v);      \
  napi_set_named_property(env, obj, name, v);
    SET_NUM("id", t->id);
    SET_STR("status", status_name(t->status));
    SET_NUM("bytes", t->bytes);
    SET_NUM("blocks", t->blocks);
    SET_NUM("retransmits", t->retransmits);
    napi_get_boolean(env, t->final_ack_missing != 0, &v);
    napi_set_named_property(env, obj, "finalAckMissing", v);
    SET_NUM("errorCode", t->err_code);
    SET_STR("kind", t->kind);
    SET_STR("message", t->message);
    if (t->data_ref) napi_delete_reference(env, t->data_ref);
    napi_get_undefined(env, &undefined);
    if (napi_get_reference_value(env, e->on_done, &fn) == napi_ok && fn != NULL)
      napi_call_function(env, undefined, fn, 1, &obj, NULL);
    if (e->active > 0 && --e->active == 0) napi_unref_threadsafe_function(env, e->tsfn);
  }
  free(t->initial);
  free(t);
  (void)js_cb;
}

static void engine_stop(void *arg) {
  engine *e = arg;
  for (int i = 0; i < e->nworkers; i++) {
    worker *w = &e->workers[i];
    w->stop = 1;
    uint64_t one = 1;
    (void)write(w->evfd, &one, sizeof one);
    pthread_join(w->thread, NULL);
    close(w->ep);
    close(w->evfd);
  }
  e->nworkers = 0;
}

static int32_t get_i32(napi_env env, napi_value v) {
  int32_t x = 0;
  napi_get_value_int32(env, v, &x);
  return x;
}

/* init(threads, onDone): start the worker threads (once). */
static napi_value js_init(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  engine *e;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(env, napi_get_instance_data(env, (void **)&e));
  if (e->started) return NULL;
  int n = get_i32(env, argv[0]);
  if (n < 1) n = 1;
  if (n > MAX_WORKERS) n = MAX_WORKERS;
  CHECK(env, napi_create_reference(env, argv[1], 1, &e->on_done));
  napi_value name;
  napi_create_string_utf8(env, "bramble-tftp-pump", NAPI_AUTO_LENGTH, &name);
  CHECK(env, napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, e, call_js, &e->tsfn));
  napi_unref_threadsafe_function(env, e->tsfn);
  for (int i = 0; i < n; i++) {
    worker *w = &e->workers[i];
    memset(w, 0, sizeof *w);
    w->tsfn = e->tsfn;
    pthread_mutex_init(&w->mu, NULL);
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(w->ep, EPOLL_CTL_ADD, w->evfd, &ev);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
      napi_throw_error(env, "ERR_BRAMBLE_PUMP", "cannot start a pump thread");
      return NULL;
    }
    e->nworkers = i + 1;
  }
  e->started = 1;
  napi_add_env_cleanup_hook(env, engine_stop, e);
  return NULL;
}

static int bind_socket(const char *local, int lo, int hi, int cursor, int *port_out) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) return -errno;
  /* Unconnected UDP sockets hear of ICMP errors only with IP_RECVERR (ip(7)): port unreachable ends a transfer. */
  int on = 1;
  (void)setsockopt(s, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  if (inet_pton(AF_INET, local, &a.sin_addr) != 1) {
    close(s);
    return -EINVAL;
  }
  int err = EADDRINUSE;
  if (lo <= 0) {
    a.sin_port = 0;
    if (bind(s, (struct sockaddr *)&a, sizeof a) == 0) err = 0;
    else err = errno;
  } else {
    int n = hi - lo + 1;
    for (int i = 0; i < n; i++) {
      int p = lo + ((cursor + i) % n);
      a.sin_port = htons((uint16_t)p);
      if (bind(s, (struct sockaddr *)&a, sizeof a) == 0) {
        err = 0;
        break;
      }
      err = errno;
      if (err != EADDRINUSE) break;
    }
  }
  if (err) {
    close(s);
    return -err;
  }
  socklen_t al = sizeof a;
  getsockname(s, (struct sockaddr *)&a, &al);
  *port_out = ntohs(a.sin_port);
  return s;
}

/*
 * start(spec) -> local port. spec: { id, localAddress, portLow, portHigh, portCursor, address, port,
 * fd | buffer, size, blksize, windowsize, timeoutMs, retries, rollTo, initial? }
 */
static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value spec, v;
  engine *e;
  CHECK(env, napi_get_cb_info(env, info, &argc, &spec, NULL, NULL));
  CHECK(env, napi_get_instance_data(env, (void **)&e));
  if (!e->started) {
    napi_throw_error(env, "ERR_BRAMBLE_PUMP", "pump not initialised");
    return NULL;
  }
  char local[64] = {0}, peer[64] = {0};
  size_t sl;
  CHECK(env, napi_get_named_property(env, spec, "localAddress", &v));
  CHECK(env, napi_get_value_string_utf8(env, v, local, sizeof local, &sl));
  CHECK(env, napi_get_named_property(env, spec, "address", &v));
  CHECK(env, napi_get_value_string_utf8(env, v, peer, sizeof peer, &sl));
#define GET_I(name, dst)                                         \
  CHECK(env, napi_get_named_property(env, spec, name, &v));      \
  dst = get_i32(env, v);
  int32_t id, lo, hi, cursor, port, blksize, window, timeout, retries, roll, fd, first_ms, chunk_bytes;
  GET_I("id", id);
  GET_I("portLow", lo);
  GET_I("portHigh", hi);
  GET_I("portCursor", cursor);
  GET_I("port", port);
  GET_I("blksize", blksize);
  GET_I("windowsize", window);
  GET_I("timeoutMs", timeout);
  GET_I("retries", retries);
  GET_I("rollTo", roll);
  GET_I("fd", fd);
  GET_I("firstReplyTimeoutMs", first_ms);
  GET_I("chunkBytes", chunk_bytes);
  double size = 0;
  CHECK(env, napi_get_named_property(env, spec, "size", &v));
  CHECK(env, napi_get_value_double(env, v, &size));
  if (blksize < 8 || blksize > 65464 || window < 1 || window > 65535 || timeout < 1 || retries < 0 || size < 0) {
    napi_throw_range_error(env, "ERR_BRAMBLE_PUMP", "invalid transfer parameters");
    return NULL;
  }
  transfer *t = calloc(1, sizeof *t);
  if (!t) {
    napi_throw_error(env, "ERR_BRAMBLE_PUMP", "out of memory");
    return NULL;
  }
  t->id = (uint32_t)id;
  t->fd = -1;
  t->size = (uint64_t)size;
  t->blksize = (uint32_t)blksize;
  t->window = (uint32_t)window;
  t->timeout_ms = t->cur_timeout_ms = timeout;
  t->retries = (uint32_t)retries;
  t->roll_to = roll == 1 ? 1 : 0;
  t->first_ms = first_ms > 0 ? first_ms : 0;
  t->peer.sin_family = AF_INET;
  t->peer.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, peer, &t->peer.sin_addr) != 1) {
    free(t);
    napi_throw_type_error(env, "ERR_BRAMBLE_PUMP", "address must be an IPv4 literal");
    return NULL;
  }
  bool has;
  CHECK(env, napi_has_named_property(env, spec, "buffer", &has));
  if (has) {
    CHECK(env, napi_get_named_property(env, spec, "buffer", &v));
    void *p;
    size_t n;
    if (napi_get_buffer_info(env, v, &p, &n) != napi_ok) {
      free(t);
      napi_throw_type_error(env, "ERR_BRAMBLE_PUMP", "buffer must be a Buffer");
      return NULL;
    }
    t->data = p;
    if (t->size > n) t->size = n;
    napi_create_reference(env, v, 1, &t->data_ref);
  } else if (fd >= 0) {
    t->fd = fd;
    /* Read-ahead: chunkBytes (granted by the server's budget) in whole blocks, at least one, at most the
       file; allocated on first use and freed while the client stalls. */
    size_t cap = chunk_bytes > blksize ? (size_t)chunk_bytes : (size_t)blksize;
    cap = cap / blksize * blksize;
    size_t whole = ((size_t)t->size + 1 + blksize - 1) / blksize * blksize;
    if (whole < cap) cap = whole;
    t->chunk_cap = cap;
  } else {
    free(t);
    napi_throw_type_error(env, "ERR_BRAMBLE_PUMP", "a buffer or an fd is required");
    return NULL;
  }
  CHECK(env, napi_has_named_property(env, spec, "initial", &has));
  if (has) {
    CHECK(env, napi_get_named_property(env, spec, "initial", &v));
    void *p;
    size_t n;
    if (napi_get_buffer_info(env, v, &p, &n) == napi_ok && n > 0) {
      t->initial = malloc(n);
      if (t->initial) {
        memcpy(t->initial, p, n);
        t->initial_len = n;
        t->awaiting_ack0 = 1;
      }
    }
  }
  t->next_to_send = 1;
  t->final_block = t->size / t->blksize + 1;
  int local_port = 0;
  int s = bind_socket(local, lo, hi, cursor, &local_port);
  if (s < 0) {
    if (t->data_ref) napi_delete_reference(env, t->data_ref);
    free(t->chunk);
    free(t->initial);
    free(t);
    char msg[128];
    snprintf(msg, sizeof msg, "cannot bind a transfer socket on %s: %s", local, strerror(-s));
    napi_throw_error(env, -s == EADDRINUSE ? "NO_PORT" : "BIND_FAILED", msg);
    return NULL;
  }
  t->sock = s;
  worker *w = &e->workers[t->id % (uint32_t)e->nworkers];
  t->w = w;
  if (e->active++ == 0) napi_ref_threadsafe_function(env, e->tsfn);
  pthread_mutex_lock(&w->mu);
  if (w->queue_tail) w->queue_tail->next_cmd = t;
  else w->queue_head = t;
  w->queue_tail = t;
  pthread_mutex_unlock(&w->mu);
  uint64_t one = 1;
  (void)write(w->evfd, &one, sizeof one);
  napi_value out;
  napi_create_int32(env, local_port, &out);
  return out;
}

/* cancel(id): send ERROR 0 "Server shutting down" and report the transfer as cancelled. */
static napi_value js_cancel(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg;
  engine *e;
  CHECK(env, napi_get_cb_info(env, info, &argc, &arg, NULL, NULL));
  CHECK(env, napi_get_instance_data(env, (void **)&e));
  if (!e->started) return NULL;
  uint32_t id = (uint32_t)get_i32(env, arg);
  worker *w = &e->workers[id % (uint32_t)e->nworkers];
  pthread_mutex_lock(&w->mu);
  if (w->ncancels == w->cap_cancels) {
    size_t cap = w->cap_cancels ? w->cap_cancels * 2 : 16;
    uint32_t *c = realloc(w->cancels, cap * sizeof *c);
    if (c) {
      w->cancels = c;
      w->cap_cancels = cap;
    }
  }
  if (w->ncancels < w->cap_cancels) w->cancels[w->ncancels++] = id;
  pthread_mutex_unlock(&w->mu);
  uint64_t one = 1;
  (void)write(w->evfd, &one, sizeof one);
  return NULL;
}

static napi_value module_init(napi_env env, napi_value exports) {
  engine *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  /* Not freed with the environment: its cleanup hook (engine_stop) may still need it. */
  napi_set_instance_data(env, e, NULL, NULL);
  napi_property_descriptor props[] = {
      {"init", NULL, js_init, NULL, NULL, NULL, napi_default, NULL},
      {"start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
      {"cancel", NULL, js_cancel, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 3, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, module_init)
