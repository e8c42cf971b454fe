# install_pkgconfig: install this build into a temporary prefix, then build a
# small program against the installed copy through `pkg-config vmsg`, linked
# shared and static, and run both (tests/install/run.sh). In the sanitizer
# flavour the consumer gets the same -fsanitize flags, since the installed
# library needs their runtime.
add_test(NAME install_pkgconfig
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/install/run.sh
                 ${CMAKE_COMMAND} ${CMAKE_BINARY_DIR} ${CMAKE_C_COMPILER}
                 ${PKG_CONFIG_EXECUTABLE} "${VMSG_CONSUMER_FLAGS}")
set_tests_properties(install_pkgconfig PROPERTIES TIMEOUT 180
                     SKIP_RETURN_CODE 77 LABELS install)

# install_uk_sdk: the installed unikernel SDK builds an appliance outside
# the tree (tests/install/uk_sdk.sh). x86-64 GCC builds only, as guest/.
if(TARGET vmsg_guest_core)
  add_test(NAME install_uk_sdk
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/install/uk_sdk.sh
                   ${CMAKE_COMMAND} ${CMAKE_BINARY_DIR} ${CMAKE_C_COMPILER}
                   ${CMAKE_NM} ${CMAKE_READELF})
  set_tests_properties(install_uk_sdk PROPERTIES TIMEOUT 300 LABELS install)
endif()
