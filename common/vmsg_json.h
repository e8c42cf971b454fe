/* Private to the programs that print JSON (vmsgd's control socket,
 * vmsg-bench --json): the few helpers they share on top of jansson.
 *
 * Every JSON document these programs print is built with jansson and
 * dumped by it, never pieced together with printf: a string that came from
 * elsewhere (a guest's Hello name, a socket path, a host name, an error
 * text) can then never change the document's shape. */
#ifndef VMSG_JSON_H
#define VMSG_JSON_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* A C string as a JSON string (NULL as ""). jansson takes only UTF-8:
 * when s is not, its ASCII is kept and every other byte becomes '?'.
 * NULL only when out of memory. */
static inline json_t *vmsg__json_str(const char *s)
{
	json_t *j = json_string(s ? s : "");
	if (j || !s)
		return j;
	size_t n = strlen(s);
	char *t = malloc(n + 1);
	if (!t)
		return NULL;
	for (size_t i = 0; i <= n; i++)
		t[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	j = json_string(t);
	free(t);
	return j;
}

/* An unsigned count (json_int_t is signed 64-bit: ours stay below 2^63). */
static inline json_t *vmsg__json_uint(unsigned long long v)
{
	return json_integer((json_int_t)v);
}

/* o[k] = v, taking v's reference (also on failure); false when v is NULL
 * (its maker ran out of memory) or jansson could not add it. */
static inline bool vmsg__json_set(json_t *o, const char *k, json_t *v)
{
	return v && json_object_set_new(o, k, v) == 0;
}

/* a += v, likewise. */
static inline bool vmsg__json_push(json_t *a, json_t *v)
{
	return v && json_array_append_new(a, v) == 0;
}

#endif
