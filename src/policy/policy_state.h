/*
 * policy_state.h: snapshots of the policy server's sender table to its state
 * file without stalling the event loop. The loop copies the table in short
 * steps (rl_copy(), 16,384 slots each, between requests) into a few
 * fixed-size chunks; a thread of its own writes them, fsyncs and renames the
 * file. Memory: four chunks of 4,096 entries (1 MiB), whatever the table size.
 *
 * An entry that moves inside the table while a snapshot is under way (a
 * sender evicted or swept next to it) can be missed by that snapshot; the
 * next one has it. Entries are as consistent as at the moment their step ran.
 */
#ifndef AD_POLICY_STATE_H
#define AD_POLICY_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include <glib.h>

#include "policy/ratelimit.h"
#include "util/log.h"

struct event_base;
struct policy_state;

/* Snapshots of t (borrowed; used on base's loop thread only). The writer
 * thread logs through its own copy of log, at the level in *log_level (read
 * atomically; the loop may change it). */
struct policy_state *policy_state_new(struct event_base *base, struct rl_table *t,
                                      const struct logger *log, const gint *log_level);

/* Starts a snapshot to path with extra appended (both copied) unless one is
 * under way: then false. */
bool policy_state_start(struct policy_state *s, const char *path, const char *extra,
                        size_t extra_len);

/* True while a snapshot is being copied or written. */
bool policy_state_busy(struct policy_state *s);

/* Completes the snapshot under way (copying the rest at once), waits for its
 * file; returns at once when there is none. */
void policy_state_wait(struct policy_state *s);

/* Waits, stops the thread, frees; accepts NULL, returns NULL. */
struct policy_state *policy_state_free(struct policy_state *s);

#endif
