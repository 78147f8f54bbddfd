/* Unit test: the ratetier= tier table parser (filters/ratetier/tiers.c).
 *
 * The literal strings from the documentation must parse to the same
 * table; every malformed string must be refused with a message that
 * names ratetier and quotes the offending part.
 */
#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "nbdkit-shim.h"
#include "../filters/ratetier/tiers.h"

static void
check_doc_table (const struct tiers *t)
{
  g_assert_nonnull (t);
  g_assert_cmpuint (t->n, ==, 4);
  g_assert_cmpuint (t->tier[0].below, ==, 1000);
  g_assert_cmpuint (t->tier[0].weight, ==, 10);
  g_assert_cmpuint (t->tier[1].below, ==, 10000);
  g_assert_cmpuint (t->tier[1].weight, ==, 4);
  g_assert_cmpuint (t->tier[2].below, ==, 100000);
  g_assert_cmpuint (t->tier[2].weight, ==, 2);
  g_assert_cmpuint (t->tier[3].below, ==, TIERS_NO_THRESHOLD);
  g_assert_cmpuint (t->tier[3].weight, ==, 1);
  g_assert_cmpuint (tiers_weight_sum (t), ==, 17);
}

static void
test_tuple_form (void)
{
  struct tiers *t = tiers_parse ("((1000, 10), (10000, 4), (100000, 2))");
  g_autofree char *s = NULL;

  check_doc_table (t);
  s = tiers_format (t);
  g_assert_cmpstr (s, ==, "1000:10,10000:4,100000:2");
  tiers_free (t);
}

static void
test_colon_form (void)
{
  struct tiers *t = tiers_parse ("1000:10,10000:4,100000:2");

  check_doc_table (t);
  tiers_free (t);
}

static void
test_whitespace (void)
{
  struct tiers *t;

  t = tiers_parse ("  ( (1000,10) ,\n(10000 ,4),(\t100000, 2 ) )  ");
  check_doc_table (t);
  tiers_free (t);
  t = tiers_parse (" 1000 : 10 , 10000:4 ,\t100000 :2 ");
  check_doc_table (t);
  tiers_free (t);
}

static void
test_only_implicit (void)
{
  struct tiers *t = tiers_parse ("()");
  g_autofree char *s = NULL;

  g_assert_nonnull (t);
  g_assert_cmpuint (t->n, ==, 1);
  g_assert_cmpuint (t->tier[0].weight, ==, 1);
  g_assert_cmpuint (tiers_place (t, 0), ==, 0);
  g_assert_cmpuint (tiers_place (t, UINT64_MAX), ==, 0);
  s = tiers_format (t);
  g_assert_cmpstr (s, ==, "()");
  tiers_free (t);

  t = tiers_parse (" ( ) ");
  g_assert_nonnull (t);
  g_assert_cmpuint (t->n, ==, 1);
  tiers_free (t);
}

static void
test_place (void)
{
  struct tiers *t = tiers_parse ("1000:10,10000:4,100000:2");

  g_assert_cmpuint (tiers_place (t, 0), ==, 0);
  g_assert_cmpuint (tiers_place (t, 999), ==, 0);
  g_assert_cmpuint (tiers_place (t, 1000), ==, 1);
  g_assert_cmpuint (tiers_place (t, 9999), ==, 1);
  g_assert_cmpuint (tiers_place (t, 10000), ==, 2);
  g_assert_cmpuint (tiers_place (t, 99999), ==, 2);
  g_assert_cmpuint (tiers_place (t, 100000), ==, 3);
  g_assert_cmpuint (tiers_place (t, UINT64_MAX), ==, 3);
  tiers_free (t);
}

/* A malformed table and the text its error message must quote. */
static const struct {
  const char *input;
  const char *quoted;
} bad[] = {
  { "", "empty" },
  { "   ", "empty" },
  { "((1000, 10), (1000, 4))", "(1000, 4)" },       /* not increasing */
  { "((1000, 10), (500, 4))", "(500, 4)" },         /* decreasing */
  { "2000:4,1000:2", "1000:2" },                    /* decreasing */
  { "((0, 10))", "\"0\"" },                         /* threshold 0 */
  { "((1000, 0))", "\"0\"" },                       /* weight 0 */
  { "1000:0", "\"0\"" },
  { "((1000, -1))", "-1))" },                       /* negative */
  { "((-1000, 1))", "-1000, 1))" },
  { "((1000 10))", "10))" },                        /* missing comma */
  { "((1000, 10)", "end of" },                      /* unclosed */
  { "((1000, 10)))", ")\" in" },                    /* extra ')' */
  { "((1000, 10),)", ")\" in" },                    /* trailing comma */
  { "(1000, 10)", "1000, 10)" },                    /* not a list */
  { "1000", "end of" },                             /* no weight */
  { "1000:", "end of" },
  { ":10", ":10" },
  { "1000:10,", "end of" },
  { "1000:10;2000:5", ";2000:5" },
  { "0x10:1", "not \"0\"" },                     /* hex */
  { "1e3:1", "e3:1" },
  { "1000:10 2000:5", "2000:5" },
  { "((1000, 65537))", "\"65537\" is" },                  /* weight too big */
  { "99999999999999999999999:1", "\"99999999999999999999999\" is" },
  { "((1000, 10), (2000, 5)) junk", "junk" },
  { "abc", "abc" },
};

static void
test_malformed (void)
{
  size_t i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    struct tiers *t;

    shim_clear_error ();
    t = tiers_parse (bad[i].input);
    if (t != NULL)
      g_error ("\"%s\" was accepted", bad[i].input);
    g_test_message ("\"%s\" -> %s", bad[i].input, shim_last_error ());
    g_assert_true (g_str_has_prefix (shim_last_error (), "ratetier"));
    if (strstr (shim_last_error (), bad[i].quoted) == NULL)
      g_error ("error for \"%s\" does not quote \"%s\": %s",
               bad[i].input, bad[i].quoted, shim_last_error ());
  }
}

static void
test_too_many (void)
{
  GString *s = g_string_new (NULL);
  struct tiers *t;
  int i;

  for (i = 1; i <= TIERS_MAX - 1; i++)
    g_string_append_printf (s, "%s%d:1", i > 1 ? "," : "", i);
  t = tiers_parse (s->str);
  g_assert_nonnull (t);
  g_assert_cmpuint (t->n, ==, TIERS_MAX);
  tiers_free (t);

  g_string_append_printf (s, ",%d:1", TIERS_MAX);
  shim_clear_error ();
  g_assert_null (tiers_parse (s->str));
  g_assert_nonnull (strstr (shim_last_error (), "too many tiers"));
  g_string_free (s, TRUE);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ratetier/tiers/tuple-form", test_tuple_form);
  g_test_add_func ("/ratetier/tiers/colon-form", test_colon_form);
  g_test_add_func ("/ratetier/tiers/whitespace", test_whitespace);
  g_test_add_func ("/ratetier/tiers/only-implicit", test_only_implicit);
  g_test_add_func ("/ratetier/tiers/place", test_place);
  g_test_add_func ("/ratetier/tiers/malformed", test_malformed);
  g_test_add_func ("/ratetier/tiers/too-many", test_too_many);
  return g_test_run ();
}
