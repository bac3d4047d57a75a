# Fetches the pinned tree-sitter core and tree-sitter-python sources from their npm packages.
# `npm pack` downloads the tarball without running any install script; each tarball is checked
# against a pinned SHA-256 before it is unpacked. Nothing fetched here is committed.
set(OOMLINT_TS_VERSION 0.25.1)
set(OOMLINT_TS_SHA256 07aeba8dd71630e7e72b2d4ca3bd2680c3471824100cc5ebff44e78a6ed0b6d3)
set(OOMLINT_TSPY_VERSION 0.25.0)
set(OOMLINT_TSPY_SHA256 63b76b3fa8181fd79eaad4abcdb21e2babcb504dbfc7710a89934fa456d26096)

set(OOMLINT_DEPS_DIR "${CMAKE_BINARY_DIR}/_deps" CACHE PATH "Where npm tarballs are unpacked")
# A shared download cache lets several build trees reuse one download.
set(OOMLINT_NPM_CACHE "$ENV{HOME}/.cache/oomlint-npm" CACHE PATH "Where npm tarballs are kept")

function(oomlint_fetch_npm name version sha256 out_dir)
  set(tarball "${OOMLINT_NPM_CACHE}/${name}-${version}.tgz")
  if(EXISTS "${tarball}")
    file(SHA256 "${tarball}" have)
    if(NOT have STREQUAL sha256)
      file(REMOVE "${tarball}")
    endif()
  endif()
  if(NOT EXISTS "${tarball}")
    find_program(NPM npm REQUIRED)
    file(MAKE_DIRECTORY "${OOMLINT_NPM_CACHE}")
    message(STATUS "oomlint: npm pack ${name}@${version}")
    execute_process(
      COMMAND "${NPM}" pack "${name}@${version}" --silent
      WORKING_DIRECTORY "${OOMLINT_NPM_CACHE}"
      RESULT_VARIABLE rc OUTPUT_QUIET)
    if(NOT rc EQUAL 0 OR NOT EXISTS "${tarball}")
      message(FATAL_ERROR "oomlint: `npm pack ${name}@${version}` failed (${rc})")
    endif()
  endif()
  file(SHA256 "${tarball}" have)
  if(NOT have STREQUAL sha256)
    message(FATAL_ERROR "oomlint: ${tarball} has SHA-256 ${have}, expected ${sha256}")
  endif()
  set(dest "${OOMLINT_DEPS_DIR}/${name}-${version}")
  if(NOT EXISTS "${dest}/package.json")
    file(REMOVE_RECURSE "${dest}" "${dest}.tmp")
    file(ARCHIVE_EXTRACT INPUT "${tarball}" DESTINATION "${dest}.tmp")
    file(RENAME "${dest}.tmp/package" "${dest}")
    file(REMOVE_RECURSE "${dest}.tmp")
  endif()
  set(${out_dir} "${dest}" PARENT_SCOPE)
endfunction()

oomlint_fetch_npm(tree-sitter ${OOMLINT_TS_VERSION} ${OOMLINT_TS_SHA256} TREE_SITTER_DIR)
oomlint_fetch_npm(tree-sitter-python ${OOMLINT_TSPY_VERSION} ${OOMLINT_TSPY_SHA256} TREE_SITTER_PYTHON_DIR)
