/* A bundle's rerun command, split into words the way sh would split the line punchlab's
 * reports print (report_rerun_command: words separated by spaces, single-quoted where needed,
 * a quote inside written '\''). Pure code: replay never hands the line to a shell. */
#pragma once
#include <stddef.h>

#define COMMAND_MAX_WORDS 128

struct command_words {
	char *w[COMMAND_MAX_WORDS + 1]; /* NULL-terminated, each malloc'd */
	int n;
};

/* Split line. Supports spaces and tabs between words, '...' (literal), "..." (with \" \\ \$ \`
 * escapes), and a backslash outside quotes; refuses what a shell would expand or run ($, `,
 * ;, |, &, <, >, (, ), a newline, an unterminated quote) outside single quotes, since a
 * command that needs them is not one punchlab wrote. 0, or -EINVAL with why, -E2BIG (too
 * many words), -ENOMEM. Free with command_words_free() in every case. */
int command_split(const char *line, struct command_words *cw, char *why, size_t wlen);
void command_words_free(struct command_words *cw);

/* Append a word (copied). 0, -E2BIG or -ENOMEM. */
int command_words_add(struct command_words *cw, const char *word);

/* The words as one line again, each quoted for sh when it needs it (like the reports do). */
void command_join(const struct command_words *cw, char *buf, size_t len);
