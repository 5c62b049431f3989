/* bench/guard_flood.c -- the connect flood of bench/guard_bench.sh: N threads, each in a loop for T seconds:
 * open a TCP connection FROM a given source address (e.g. the banned 127.0.0.5), send one small request
 * (GET / HTTP/1.1, Connection: close), read until the server closes or resets, close; one cycle.
 *
 *   guard_flood SRC_ADDR DST_ADDR DST_PORT SECONDS THREADS
 *
 * Prints one line: FLOOD cycles=... rate=...(cycles/s) reset=... eof=... s403=... other=... timeout=... connect_err=...
 *   reset: the connection was reset (ECONNRESET/EPIPE on send or recv) before any answer byte
 *   eof:   closed (FIN) without an answer byte         s403: an answer starting "HTTP/1.x 403"
 *   other: any other answer                            timeout: nothing within 5 s
 *   connect_err: connect() failed (refused, no free source port, ...); the thread sleeps 1 ms after one
 * Build: cc -O2 -pthread -o guard_flood guard_flood.c
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static struct sockaddr_in src, dst;
static atomic_int stop;
static const char request[] =
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: guard_flood\r\nConnection: close\r\n\r\n";

struct counts { long cycles, reset, eof, s403, other, timeout, connect_err; };

static void *worker(void *arg) {
    struct counts *c = arg;
    char buf[4096];
    struct timeval tv = {5, 0};
    int one = 1;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) { c->connect_err++; usleep(1000); continue; }
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0 ||
            connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0) {
            c->connect_err++;
            close(fd);
            usleep(1000);
            continue;
        }
        int outcome = 0; /* 1 reset 2 eof 3 403 4 other 5 timeout */
        if (send(fd, request, sizeof request - 1, MSG_NOSIGNAL) < 0) {
            outcome = (errno == EAGAIN || errno == EWOULDBLOCK) ? 5 : 1;
        }
        size_t got = 0;
        int answered = 0;
        while (outcome == 0 || (outcome >= 3 && outcome <= 4)) {
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            if (n > 0) {
                if (!answered) {
                    answered = 1;
                    outcome = (n >= 12 && memcmp(buf, "HTTP/1.", 7) == 0 && memcmp(buf + 9, "403", 3) == 0) ? 3 : 4;
                }
                got += (size_t)n;
                continue;
            }
            if (n == 0) { if (!answered) outcome = 2; break; }
            if (errno == EINTR) continue;
            if (!answered) outcome = (errno == EAGAIN || errno == EWOULDBLOCK) ? 5 : 1;
            break;
        }
        close(fd);
        c->cycles++;
        switch (outcome) {
        case 1: c->reset++; break;
        case 2: c->eof++; break;
        case 3: c->s403++; break;
        case 4: c->other++; break;
        default: c->timeout++; break;
        }
    }
    return NULL;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: guard_flood SRC_ADDR DST_ADDR DST_PORT SECONDS THREADS\n");
        return 2;
    }
    src.sin_family = dst.sin_family = AF_INET;
    if (inet_pton(AF_INET, argv[1], &src.sin_addr) != 1 || inet_pton(AF_INET, argv[2], &dst.sin_addr) != 1) {
        fprintf(stderr, "guard_flood: bad address\n");
        return 2;
    }
    dst.sin_port = htons((unsigned short)atoi(argv[3]));
    double seconds = atof(argv[4]);
    int threads = atoi(argv[5]);
    if (threads < 1 || threads > 256 || seconds <= 0) { fprintf(stderr, "guard_flood: bad arguments\n"); return 2; }
    pthread_t tid[256];
    struct counts counts[256];
    memset(counts, 0, sizeof counts);
    double start = now();
    for (int i = 0; i < threads; i++) pthread_create(&tid[i], NULL, worker, &counts[i]);
    struct timespec ts = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i < threads; i++) pthread_join(tid[i], NULL);
    double elapsed = now() - start;
    struct counts t = {0};
    for (int i = 0; i < threads; i++) {
        t.cycles += counts[i].cycles; t.reset += counts[i].reset; t.eof += counts[i].eof; t.s403 += counts[i].s403;
        t.other += counts[i].other; t.timeout += counts[i].timeout; t.connect_err += counts[i].connect_err;
    }
    printf("FLOOD cycles=%ld rate=%.0f elapsed=%.2f reset=%ld eof=%ld s403=%ld other=%ld timeout=%ld connect_err=%ld\n",
           t.cycles, t.cycles / elapsed, elapsed, t.reset, t.eof, t.s403, t.other, t.timeout, t.connect_err);
    return 0;
}
