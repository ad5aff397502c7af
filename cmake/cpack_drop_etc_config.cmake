# CPack pre-build script: remove the config that install.cmake copies to /etc, so the .deb
# ships no file under /etc (postinst creates the config when absent).
file(GLOB staged_etc_dirs "${CPACK_TEMPORARY_INSTALL_DIRECTORY}/etc"
     "${CPACK_TEMPORARY_INSTALL_DIRECTORY}/*/etc")
foreach(dir IN LISTS staged_etc_dirs)
  file(REMOVE_RECURSE "${dir}/gridshift")
  file(GLOB left "${dir}/*")
  if(NOT left)
    file(REMOVE_RECURSE "${dir}")
  endif()
endforeach()
