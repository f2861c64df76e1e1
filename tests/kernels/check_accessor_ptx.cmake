# Reads the PTX of kernels/accessor_triad.cu: the accessor's fast path must be a relaxed
# device-scope load of the entry (ld.relaxed.gpu), one per access site; acquire loads
# (ld.acquire.gpu) belong to the fault path's wait loop only (nvcc may peel it, so they are
# counted, not bounded).
file(READ "${PTX}" ptx)
string(REGEX MATCHALL "ld\\.relaxed\\.gpu[.a-z0-9]*" relaxed "${ptx}")
string(REGEX MATCHALL "ld\\.acquire\\.gpu[.a-z0-9]*" acquire "${ptx}")
list(LENGTH relaxed n_relaxed)
list(LENGTH acquire n_acquire)
message(STATUS "accessor triad PTX: ${n_relaxed} relaxed entry loads (fast path), "
               "${n_acquire} acquire (fault path)")
if(n_relaxed LESS 3)
  message(FATAL_ERROR "the triad's 3 accesses should each load their entry with ld.relaxed.gpu "
                      "on the fast path; found ${n_relaxed} in ${PTX}")
endif()
