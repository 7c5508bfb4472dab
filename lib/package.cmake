# CPack: one Debian package, rtbridge_VERSION_ARCH.deb, with everything
# `cmake --install` installs (the program, its manual page, librtbridge.so
# with its headers, rtbridge.pc and the example). Build it from a tree
# configured with -DCMAKE_INSTALL_PREFIX=/usr:
#   cmake --build build --target package     (or: cd build && cpack -G DEB)
# Its dependencies are the Debian 12 (bookworm) runtime packages of the
# libraries the program and the library link.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME rtbridge)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "rtbridge maintainers <rtbridge@example.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "LAN audio streaming bridge over RTP (Opus, L16, L24), and its C library")
set(CPACK_PACKAGE_DESCRIPTION
  "rtbridge sends sound files or live input as RTP streams, and receives,\n\
mixes, plays and records them through an adaptive jitter buffer with loss\n\
concealment and clock drift compensation. librtbridge gives applications\n\
the same engine: receivers whose streams appear and leave with callbacks,\n\
senders from files or pushed frames, and a mix for their own audio\n\
callback.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION sound)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
  "libc6 (>= 2.36), libuv1 (>= 1.44), libopus0 (>= 1.3), libsndfile1 (>= 1.2), libsamplerate0 (>= 0.2), libportaudio2 (>= 19.6), libsrtp2-1 (>= 2.5)")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "pkg-config, gcc, portaudio19-dev")
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
include(CPack)
