/*
** tumbler's own addition to the C API; not part of Lua 5.1.5 (see README.md).
*/

#define ltumbler_c
#define LUA_CORE

#include "lua.h"

#include "lobject.h"
#include "lstate.h"
#include "ltable.h"


/*
** Whether the table at the top of the stack has no metatable and no value under any key
** but the integers 1..len: that is, whether a KEYS or ARGV array that tumbler filled with
** len elements for one script run is still free of anything the script added, so that it
** may be refilled for the next run rather than replaced. Reads the table's parts directly
** (what lua_next would report, without a traversal from Lua's side).
*/
LUA_API int lua_tumbler_onlyarray (lua_State *L, int len) {
  const Table *t = hvalue(L->top - 1);
  int i;
  if (t->metatable != NULL)
    return 0;
  for (i = len; i < t->sizearray; i++)  /* array slots len+1.. */
    if (!ttisnil(&t->array[i]))
      return 0;
  for (i = 0; i < sizenode(t); i++) {
    const Node *n = gnode(t, i);
    if (!ttisnil(gval(n))) {
      const TValue *k = key2tval(n);
      lua_Number d;
      if (!ttisnumber(k))
        return 0;
      d = nvalue(k);
      if (!(d >= 1 && d <= len && d == (lua_Number)(int)d))
        return 0;
    }
  }
  return 1;
}
