# Installs the built library into a scratch prefix, then configures, builds and runs
# docs/example, an application that uses find_package(uvm); then builds its main.cpp once more
# with nothing but the compiler and `pkg-config --cflags --libs uvm`.
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

# pkg-config: the installed uvm.pc alone is enough to compile and link the example.
file(GLOB_RECURSE pc_files ${prefix}/uvm.pc)
list(LENGTH pc_files pc_count)
if(NOT pc_count EQUAL 1)
  message(FATAL_ERROR "expected one installed uvm.pc, found: ${pc_files}")
endif()
get_filename_component(pc_dir ${pc_files} DIRECTORY)
execute_process(COMMAND ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${pc_dir}
                        pkg-config --cflags --libs uvm
                OUTPUT_VARIABLE pc_flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config --cflags --libs uvm failed (${rc})")
endif()
separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
run(${CXX} -std=c++20 ${SOURCE_DIR}/docs/example/main.cpp ${pc_flags} -o ${build}/uvm-example-pc)
run(${CMAKE_COMMAND} -E env UVM_BACKEND=emulated ${build}/uvm-example-pc)
