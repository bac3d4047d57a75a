/* GSSAPI stand-ins for a statically linked libgit2 (OOMLINT_LIBGIT2_STATIC, the wheel's build).
 * libgit2's HTTP "Negotiate" authentication refers to these Kerberos functions, and Debian ships
 * no static libgssapi_krb5. oomlint only opens local repositories to match .gitignore, so none of
 * them is ever called; each fails with GSS_S_FAILURE should one be. */
#include <stddef.h>

typedef unsigned int OM_uint32;
#define OOMLINT_GSS_S_FAILURE (13u << 16)

static OM_uint32 oomlint_gss_fail(OM_uint32* minor) {
  if (minor) *minor = 0;
  return OOMLINT_GSS_S_FAILURE;
}

void* GSS_C_NT_HOSTBASED_SERVICE = NULL;

OM_uint32 gss_delete_sec_context(OM_uint32* minor, void* ctx, void* out) {
  (void)ctx;
  (void)out;
  return oomlint_gss_fail(minor);
}
OM_uint32 gss_display_status(OM_uint32* minor, OM_uint32 status, int type, void* mech,
                             OM_uint32* context, void* out) {
  (void)status;
  (void)type;
  (void)mech;
  if (context) *context = 0;
  (void)out;
  return oomlint_gss_fail(minor);
}
OM_uint32 gss_import_name(OM_uint32* minor, void* in, void* type, void* out) {
  (void)in;
  (void)type;
  (void)out;
  return oomlint_gss_fail(minor);
}
OM_uint32 gss_indicate_mechs(OM_uint32* minor, void* out) {
  (void)out;
  return oomlint_gss_fail(minor);
}
OM_uint32 gss_init_sec_context(OM_uint32* minor, void* cred, void* ctx, void* target, void* mech,
                               OM_uint32 flags, OM_uint32 time, void* bindings, void* in,
                               void* actual_mech, void* out, OM_uint32* ret_flags,
                               OM_uint32* ret_time) {
  (void)cred;
  (void)ctx;
  (void)target;
  (void)mech;
  (void)flags;
  (void)time;
  (void)bindings;
  (void)in;
  (void)actual_mech;
  (void)out;
  (void)ret_flags;
  (void)ret_time;
  return oomlint_gss_fail(minor);
}
OM_uint32 gss_release_buffer(OM_uint32* minor, void* buffer) {
  (void)buffer;
  return oomlint_gss_fail(minor);
}
OM_uint32 gss_release_name(OM_uint32* minor, void* name) {
  (void)name;
  return oomlint_gss_fail(minor);
}
OM_uint32 gss_release_oid_set(OM_uint32* minor, void* set) {
  (void)set;
  return oomlint_gss_fail(minor);
}
