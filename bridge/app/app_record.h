/*
 * app_record: what the commands check and say about their recordings
 *
 * Before anything starts, a --record file or --record-dir directory that
 * cannot be written (missing, not a directory, read-only, no permission)
 * is refused with one line naming it. While running, a recording that
 * stops by itself (the disk filled up, a write failed) is reported once;
 * the file keeps what was written and the rest of the program goes on.
 * At the end, each recording's outcome is one phrase for the summary.
 *
 * Context: control (main) thread.
 */
#ifndef RTB_APP_RECORD_H
#define RTB_APP_RECORD_H

#include <stdbool.h>
#include <stddef.h>

#include "bridge/audio/disktap.h"

/*
 * Check that a recording can be made at `path` (diskcheck_file: a format
 * we write, a directory that takes new files, or a file that can be
 * replaced).
 *
 * Return: 0, or -errno after printing "rtbridge CMD: --record PATH: why"
 */
int app_record_check_file(const char *cmd, const char *path);

/*
 * Check that `dir` is a directory in which files can be created
 * (diskcheck_dir: a probe file is created and removed).
 *
 * Return: 0, or -errno after printing "rtbridge CMD: --record-dir DIR: why"
 */
int app_record_check_dir(const char *cmd, const char *dir);

/*
 * Say that a recording stopped by itself: "rtbridge CMD: <error: the
 * disk's message, with the frames the file keeps>; the recording stopped
 * there".
 */
void app_record_say_stopped(const char *cmd, const char *error);

/*
 * Say that a recording failed (one not said stopped while running):
 * "rtbridge CMD: PATH: recording failed: WHY" (app_record_failure).
 */
void app_record_say_failed(const char *cmd, const char *path, const char *why);

/*
 * Whether the open tap's recording has stopped by itself (disk full,
 * write error) and *reported is still false; if so, set *reported (the
 * caller says it: disktap_error has the disk's message).
 *
 * Return: true the first time the stop is seen
 */
bool app_record_stopped_now(const struct disktap *t, bool *reported);

/*
 * Why a closed recording failed (rc < 0: what disktap_wait_closed
 * returned), as app_record_failed says it after "PATH: recording failed: "
 *
 * Return: buf
 */
char *app_record_failure(char *buf, size_t n, const char *path,
                         const struct disktap *t, int rc);

/*
 * The outcome of the closed recording of `path` for a summary line (rc is
 * what disktap_wait_closed returned): "N frames", with
 * ", dropped D" when frames were dropped, ", stopped early: <why>" when
 * the recording stopped (the file holds the N frames), or "not finished:
 * <why>" when its result never came.
 *
 * Return: buf
 */
char *app_record_outcome(char *buf, size_t n, const char *path,
                         const struct disktap *t, int rc);

/* Room for an outcome, NUL included (rtb_record_status.outcome's). */
#define APP_RECORD_OUTCOME_MAX 320

#endif
