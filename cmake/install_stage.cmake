# vmsg_install_configured(TEMPLATE NAME DESTINATION SETUP): at install time,
# run SETUP (CMake code setting the template's variables; it may use the
# install's ${CMAKE_INSTALL_PREFIX}), configure TEMPLATE (@ONLY) as NAME and
# install it into DESTINATION (install-time CMake, e.g.
# "\${CMAKE_INSTALL_PREFIX}/lib/pkgconfig"; DESTDIR applies).
# The file is written in a directory of its own for this one install and
# removed after: tests install one build tree to several prefixes at once,
# and a shared staging file was rewritten under another install's copy
# ("No such file or directory" from cmake --install).
function(vmsg_install_configured template name destination setup)
  install(CODE "block()
    ${setup}
    string(RANDOM LENGTH 16 _stage)
    set(_stage \"${CMAKE_CURRENT_BINARY_DIR}/install-stage-\${_stage}\")
    configure_file(\"${template}\" \"\${_stage}/${name}\" @ONLY)
    file(INSTALL \"\${_stage}/${name}\" DESTINATION \"${destination}\")
    file(REMOVE_RECURSE \"\${_stage}\")
  endblock()")
endfunction()
