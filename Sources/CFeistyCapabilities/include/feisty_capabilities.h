#ifndef FEISTY_CAPABILITIES_H
#define FEISTY_CAPABILITIES_H

// Linux capabilities of the calling thread, for `--user` with `--ban-action nftables`: prctl(2) is variadic and
// capset(2) has no libc wrapper, so Swift reaches neither directly. Capabilities belong to a thread, not to the
// process: each call changes the calling thread alone.

#ifdef __linux__

#include <sys/types.h>

/// CAP_NET_ADMIN, the one capability nft needs.
#define FEISTY_CAP_NET_ADMIN 12

/// prctl(PR_SET_KEEPCAPS, keep): whether the thread's permitted capabilities survive its user IDs leaving 0.
/// Returns 0, or -1 with errno set.
int feisty_keep_capabilities(int keep);

/// Keeps `capability` alone, on a thread whose user IDs just left 0 with PR_SET_KEEPCAPS set: it becomes the only
/// permitted, effective, inheritable and ambient capability (ambient: a program the thread starts holds it too), the
/// bounding set shrinks to it (when CAP_SETPCAP allows), and PR_SET_KEEPCAPS is cleared again.
/// Returns 0, or the number of the step that failed (1 capget, 2 capset to raise, 3 bounding set, 4 capset to
/// keep, 5 ambient, 6 keepcaps off) with errno set.
int feisty_keep_only_capability(int capability);

/// The calling thread's kernel thread ID (its name in /proc/self/task).
pid_t feisty_thread_id(void);

/// What `feisty_run_capturing` collected (free both buffers with `feisty_free_captured`).
typedef struct {
    /// The wait status (waitpid(2)).
    int status;
    char *output;
    size_t output_length;
    char *error;
    size_t error_length;
} feisty_captured;

/// Runs `argv` (argv[0] looked up in PATH) from the calling thread, so that the child starts with this thread's
/// credentials and capabilities (swift-subprocess forks from a worker thread of its own): `input` on its standard
/// input, its standard output and error collected (up to `limit` bytes each), every other descriptor closed, every
/// signal at its default action and unblocked. Waits for it.
/// Returns 0, or -1 with errno set (nothing to free then).
int feisty_run_capturing(
    char *const argv[], const char *input, size_t input_length, size_t limit, feisty_captured *captured);

/// Frees what `feisty_run_capturing` collected.
void feisty_free_captured(feisty_captured *captured);

#endif

#endif
