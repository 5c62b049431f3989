#ifdef __linux__

#define _GNU_SOURCE
#include "feisty_capabilities.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int set_capabilities(uint64_t permitted, uint64_t effective, uint64_t inheritable) {
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {
        {(uint32_t)effective, (uint32_t)permitted, (uint32_t)inheritable},
        {(uint32_t)(effective >> 32), (uint32_t)(permitted >> 32), (uint32_t)(inheritable >> 32)},
    };
    return (int)syscall(SYS_capset, &header, data);
}

static int permitted_capabilities(uint64_t *permitted) {
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {{0, 0, 0}, {0, 0, 0}};
    if (syscall(SYS_capget, &header, data) != 0) return -1;
    *permitted = (uint64_t)data[0].permitted | ((uint64_t)data[1].permitted << 32);
    return 0;
}

int feisty_keep_capabilities(int keep) { return prctl(PR_SET_KEEPCAPS, keep ? 1 : 0, 0, 0, 0); }

int feisty_keep_only_capability(int capability) {
    uint64_t kept = UINT64_C(1) << capability;
    uint64_t permitted = 0;
    if (permitted_capabilities(&permitted) != 0) return 1;
    if ((permitted & kept) == 0) {
        errno = EPERM;
        return 1;
    }
    // Effective again (leaving uid 0 emptied it): CAP_SETPCAP is what shrinks the bounding set.
    if (set_capabilities(permitted, permitted, 0) != 0) return 2;
    if (permitted & (UINT64_C(1) << CAP_SETPCAP)) {
        for (int other = 0; other < 64; other++) {
            // EINVAL: past the kernel's last capability.
            if (other != capability && prctl(PR_CAPBSET_DROP, other, 0, 0, 0) != 0 && errno != EINVAL) return 3;
        }
    }
    if (set_capabilities(kept, kept, kept) != 0) return 4;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return 5;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, capability, 0, 0) != 0) return 5;
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return 6;
    return 0;
}

pid_t feisty_thread_id(void) { return (pid_t)syscall(SYS_gettid); }

/// Appends what `fd` has to `buffer` (up to `limit`, reading and dropping the rest); 0 at end of file.
static ssize_t drain(int fd, char **buffer, size_t *length, size_t limit) {
    char chunk[65536];
    ssize_t got = read(fd, chunk, sizeof chunk);
    if (got <= 0) return got;
    size_t room = *length < limit ? limit - *length : 0;
    size_t kept = (size_t)got < room ? (size_t)got : room;
    if (kept > 0) {
        char *grown = realloc(*buffer, *length + kept + 1);
        if (grown == NULL) return -1;
        memcpy(grown + *length, chunk, kept);
        *length += kept;
        grown[*length] = 0;
        *buffer = grown;
    }
    return got;
}

int feisty_run_capturing(
    char *const argv[], const char *input, size_t input_length, size_t limit, feisty_captured *captured) {
    memset(captured, 0, sizeof *captured);
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) goto fail;
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    // Older C libraries have no such action: feisty's own descriptors are close-on-exec anyway.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#endif
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setsigdefault(&attributes, &all);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t child;
    int spawned = posix_spawnp(&child, argv[0], &actions, &attributes, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (spawned != 0) {
        errno = spawned;
        goto fail;
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    in[0] = out[1] = err[1] = -1;
    // A child that stops reading early must not end feisty: its write fails with EPIPE instead of SIGPIPE.
    sigset_t pipe_signal, previous;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_signal, &previous);
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    size_t written = 0;
    if (input_length == 0) {
        close(in[1]);
        in[1] = -1;
    }
    while (in[1] >= 0 || out[0] >= 0 || err[0] >= 0) {
        struct pollfd fds[3] = {{in[1], POLLOUT, 0}, {out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
        if (poll(fds, 3, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (in[1] >= 0 && fds[0].revents) {
            ssize_t done = write(in[1], input + written, input_length - written);
            if (done > 0) written += (size_t)done;
            if ((done < 0 && errno != EAGAIN && errno != EINTR) || written == input_length) {
                close(in[1]);
                in[1] = -1;
            }
        }
        if (out[0] >= 0 && fds[1].revents && drain(out[0], &captured->output, &captured->output_length, limit) <= 0) {
            close(out[0]);
            out[0] = -1;
        }
        if (err[0] >= 0 && fds[2].revents && drain(err[0], &captured->error, &captured->error_length, limit) <= 0) {
            close(err[0]);
            err[0] = -1;
        }
    }
    // The EPIPE's signal, if any, is taken before SIGPIPE is unblocked again.
    struct timespec now = {0, 0};
    while (sigtimedwait(&pipe_signal, NULL, &now) == SIGPIPE) {}
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    // Left open only when poll failed: closing them ends the child's writes and reads.
    int open_ends[3] = {in[1], out[0], err[0]};
    for (int i = 0; i < 3; i++) {
        if (open_ends[i] >= 0) close(open_ends[i]);
    }
    in[1] = out[0] = err[0] = -1;
    while (waitpid(child, &captured->status, 0) < 0) {
        if (errno != EINTR) goto fail;
    }
    return 0;
fail: {
    int saved = errno;
    int fds[6] = {in[0], in[1], out[0], out[1], err[0], err[1]};
    for (int i = 0; i < 6; i++) {
        if (fds[i] >= 0) close(fds[i]);
    }
    feisty_free_captured(captured);
    errno = saved;
    return -1;
}
}

void feisty_free_captured(feisty_captured *captured) {
    free(captured->output);
    free(captured->error);
    captured->output = captured->error = NULL;
    captured->output_length = captured->error_length = 0;
}

#endif
