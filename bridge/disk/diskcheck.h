/*
 * diskcheck: whether a recording can be written where the user asks
 *
 * Control-thread checks made at start, before any stream exists, so that
 * a missing, read-only or unwritable target, or a file name whose
 * extension names no format we write, is refused with one clear line
 * rather than noticed when the first stream arrives. The disk thread uses
 * diskcheck_container for the same extension rules when it creates files.
 */
#ifndef RTB_DISKCHECK_H
#define RTB_DISKCHECK_H

#include <stddef.h>

/*
 * The container a recording at `path` gets from its extension: .wav,
 * .aiff/.aif, .flac, .ogg/.oga (Vorbis), .opus (Ogg Opus), any case.
 *
 * Context: any (pure)
 * Return: SF_FORMAT_WAV, SF_FORMAT_AIFF, SF_FORMAT_FLAC, SF_FORMAT_OGG |
 *         SF_FORMAT_VORBIS or SF_FORMAT_OGG | SF_FORMAT_OPUS; -EINVAL for
 *         another extension, with `msg` (when not NULL) set to one line
 *         naming `path` and the extensions known
 */
int diskcheck_container(const char *path, char *msg, size_t len);

/*
 * Whether recordings can be created in directory `dir`: it exists, is a
 * directory, and a probe file can be created in it (and is removed at
 * once), which catches read-only mounts, missing permissions and a disk
 * with no room for one more file.
 *
 * Context: control (makes file system calls)
 * Return: 0, or -errno (-ENOENT, -ENOTDIR, -EACCES, -EROFS, -ENOSPC, ...)
 *         with `msg` set to one line naming `dir` ("rec: cannot record
 *         here: Read-only file system")
 */
int diskcheck_dir(const char *dir, char *msg, size_t len);

/*
 * Whether a recording can be created at `path`: its extension is one
 * diskcheck_container knows, its directory passes diskcheck_dir, and an
 * existing `path` is not a directory and can be opened for writing (it
 * will be replaced). Nothing is created or changed.
 *
 * Context: control (makes file system calls)
 * Return: 0, or -errno with `msg` set to one line naming `path`
 */
int diskcheck_file(const char *path, char *msg, size_t len);

#endif
