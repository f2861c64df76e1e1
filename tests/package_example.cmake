# Installs the built library into a scratch prefix, then configures, builds and runs
# docs/example, an application that uses find_package(uvm).
set(prefix ${BINARY_DIR}/package-test/prefix)
set(build ${BINARY_DIR}/package-test/example)
file(REMOVE_RECURSE ${BINARY_DIR}/package-test)
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}")
  endif()
endfunction()
run(${CMAKE_COMMAND} --install ${BINARY_DIR} --prefix ${prefix})
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/docs/example -B ${build} -DCMAKE_PREFIX_PATH=${prefix})
run(${CMAKE_COMMAND} --build ${build})
# Built by the host compiler, the example's kernel runs on the emulated device, GPU or not.
run(${CMAKE_COMMAND} -E env UVM_BACKEND=emulated ${build}/uvm-example)
run(${CMAKE_COMMAND} -E env UVM_BACKEND=emulated ${build}/uvm-custom-policy)
