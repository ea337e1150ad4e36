/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* ctl/param.c - qikictl param and config, the history's parameter rows;
 * see ctl/param.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/param.h"
#include "rt/agent/param.h"
#include "rt/cli.h"
#include "rt/config/config.h"
#include "shm/mbox.h"

/* qikictl's exit codes (ctl/qikictl.c documents them) */
enum { EX_OK, EX_USAGE, EX_INSTANCE, EX_REFUSED };

#define VALUE_MAX 1e15		/* beyond every range: a typo, refused as one */

bool qk_ctl_params_read(struct qk_seg *seg, struct qk_param_status *st)
{
	static struct qk_param_status scratch;

	memset(st, 0, sizeof(*st));
	if (!qk_mbox_read(seg->params, st, &scratch)) {
		memset(st, 0, sizeof(*st));
		return false;
	}
	if (st->n > QK_MAX_PARAMS)
		st->n = QK_MAX_PARAMS;
	for (uint32_t i = 0; i < QK_MAX_PARAMS; i++)
		st->p[i].name[QK_PARAM_NAME_LEN - 1] = '\0';
	return st->n > 0;
}

static int find(const struct qk_param_status *st, const char *name)
{
	for (uint32_t i = 0; i < st->n; i++)
		if (!strcmp(st->p[i].name, name))
			return (int)i;
	return -1;
}

void qk_ctl_param_cmd(struct qk_cmd *c, const char *name, double v)
{
	memset(c, 0, sizeof(*c));
	c->type = QK_CMD_PARAM;
	c->u[0] = qk_param_hash(name);
	c->arg[0] = v;
	snprintf(c->name, sizeof(c->name), "%.*s", QK_NAME_LEN - 1, name);
}

int qk_ctl_param_action(const struct qk_config *cfg, const char *name, const char *value,
			struct qk_cmd *c, char *err, size_t n)
{
	static struct qk_params local;
	static struct qk_config copy;
	char why[256];
	double v;

	copy = *cfg;
	if (qk_params_build(&local, &copy, NULL, why, sizeof(why))) {
		snprintf(err, n, "param: %s", why);
		return -EINVAL;
	}
	if (strlen(name) >= QK_PARAM_NAME_LEN ||
	    (qk_params_find(&local, name) < 0 && (strncmp(name, "controller.", 11) || !name[11]))) {
		size_t used = (size_t)snprintf(err, n, "param: no parameter '%s' (", name);

		for (uint32_t i = 0; i < local.st.n && used < n; i++)
			used += (size_t)snprintf(err + used, n - used, "%s%s", i ? ", " : "",
						 local.st.p[i].name);
		if (used < n)
			snprintf(err + used, n - used, ", or a plug-in's controller.NAME)");
		return -EINVAL;
	}
	if (qk_parse_double(value, -VALUE_MAX, VALUE_MAX, &v)) {
		snprintf(err, n, "param %s: '%s' is not a number", name, value);
		return -EINVAL;
	}
	qk_ctl_param_cmd(c, name, v);
	return 0;
}

int qk_ctl_param_args(int argc, char *const argv[], char *err, size_t n)
{
	double v;

	if (argc < 1 || (strcmp(argv[0], "list") && strcmp(argv[0], "get") && strcmp(argv[0], "set"))) {
		snprintf(err, n, "param: expected list, get NAME or set NAME VALUE");
		return -EINVAL;
	}
	int want = !strcmp(argv[0], "list") ? 1 : !strcmp(argv[0], "get") ? 2 : 3;

	if (argc != want) {
		snprintf(err, n, "param %s: expected %s", argv[0],
			 want == 1 ? "no more arguments" : want == 2 ? "NAME" : "NAME VALUE");
		return -EINVAL;
	}
	if (want > 1 && (!argv[1][0] || strlen(argv[1]) >= QK_PARAM_NAME_LEN)) {
		snprintf(err, n, "param %s: '%s' is not a parameter name (qikictl param list)",
			 argv[0], argv[1]);
		return -EINVAL;
	}
	if (want == 3 && qk_parse_double(argv[2], -VALUE_MAX, VALUE_MAX, &v)) {
		snprintf(err, n, "param set %s: '%s' is not a number", argv[1], argv[2]);
		return -EINVAL;
	}
	return 0;
}

static int unknown(const struct qk_param_status *st, const char *name)
{
	fprintf(stderr, "qikictl: no parameter '%s'; parameters:", name);
	for (uint32_t i = 0; i < st->n; i++)
		fprintf(stderr, " %s", st->p[i].name);
	fputc('\n', stderr);
	return EX_USAGE;
}

static void info_json(struct qk_json *j, const struct qk_param_info *p)
{
	qk_json_str(j, "name", p->name);
	qk_json_str(j, "type", p->type == QK_PT_U32 ? "integer" : "number");
	qk_json_f64(j, "value", p->value);
	qk_json_f64(j, "initial", p->initial);
	qk_json_f64(j, "min", p->min);
	qk_json_bool(j, "min_excluded", p->flags & QK_PARAMF_MIN_OPEN);
	qk_json_f64(j, "max", p->max);
}

static int list(const struct qk_param_status *st, bool json)
{
	char range[64];

	if (json) {
		struct qk_json j;

		qk_json_begin(&j, stdout);
		qk_json_u64(&j, "changes", st->n_changes);
		qk_json_arr(&j, "params");
		for (uint32_t i = 0; i < st->n; i++) {
			qk_json_obj(&j, NULL);
			info_json(&j, &st->p[i]);
			qk_json_close(&j);
		}
		qk_json_close(&j);
		qk_json_end(&j);
		return EX_OK;
	}
	printf("%-34s %-12s %-24s %s\n", "NAME", "VALUE", "RANGE", "INITIAL");
	for (uint32_t i = 0; i < st->n; i++) {
		const struct qk_param_info *p = &st->p[i];

		qk_param_range_words(p, range, sizeof(range));
		printf("%-34s %-12g %-24s %g%s\n", p->name, p->value, range, p->initial,
		       p->value != p->initial ? " (changed)" : "");
	}
	return EX_OK;
}

int qk_ctl_param_run(struct qk_seg *seg, int argc, char *const argv[], bool json,
		     qk_ctl_send_fn send, void *ctx)
{
	static struct qk_param_status st;
	char range[64];
	int i;

	if (argc < 1)
		return EX_USAGE;
	if (!qk_ctl_params_read(seg, &st)) {
		fprintf(stderr, "qikictl: the agent publishes no parameters (is it running?)\n");
		return EX_INSTANCE;
	}
	if (!strcmp(argv[0], "list"))
		return list(&st, json);
	if ((i = find(&st, argv[1])) < 0)
		return unknown(&st, argv[1]);

	const struct qk_param_info *p = &st.p[i];

	if (!strcmp(argv[0], "get")) {
		if (json) {
			struct qk_json j;

			qk_json_begin(&j, stdout);
			info_json(&j, p);
			qk_json_end(&j);
		} else {
			printf("%g\n", p->value);
		}
		return EX_OK;
	}
	struct qk_cmd c;
	struct qk_reply r;
	double v = strtod(argv[2], NULL);	/* checked by qk_ctl_param_args() */
	int ret;

	qk_ctl_param_cmd(&c, p->name, v);
	ret = send(ctx, &c, &r);
	if (ret == EX_REFUSED && !qk_param_in_range(p, v)) {
		/* the reply holds 47 characters: the whole range here */
		qk_param_range_words(p, range, sizeof(range));
		fprintf(stderr, "qikictl: %s takes %s%s\n", p->name,
			p->type == QK_PT_U32 ? "an " : "a number in ", range);
	}
	if (ret)
		return ret;
	if (json) {
		struct qk_json j;

		qk_json_begin(&j, stdout);
		qk_json_str(&j, "result", "accepted");
		qk_json_u64(&j, "id", r.id);
		qk_json_str(&j, "name", p->name);
		qk_json_f64(&j, "old", p->value);
		qk_json_f64(&j, "value", v);
		qk_json_end(&j);
	} else {
		printf("%s %g (was %g)\n", p->name, v, p->value);
	}
	return EX_OK;
}

/* The shortest text that reads back as exactly v. */
static const char *shortest(double v, char *buf, size_t n)
{
	for (int p = 1; p <= 17; p++) {
		snprintf(buf, n, "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return buf;
}

int qk_ctl_config_dump(struct qk_seg *seg, FILE *out)
{
	static struct qk_param_status st;
	static struct qk_params local;
	static struct qk_config cfg;
	char why[256], num[32];
	bool any_ctl = false;

	cfg = *seg->config;
	qk_ctl_params_read(seg, &st);
	/* the configuration's own parameters, as the built-in table names them */
	if (qk_params_build(&local, &cfg, NULL, why, sizeof(why)))
		return -EINVAL;
	for (uint32_t i = 0; i < st.n; i++) {
		int k = qk_params_find(&local, st.p[i].name);

		if (k >= 0 && (st.p[i].flags & QK_PARAMF_CONFIG))
			qk_params_write(&local, (uint32_t)k, st.p[i].value);
		else if (!(st.p[i].flags & QK_PARAMF_CONFIG))
			any_ctl = true;
	}
	int ret = qk_config_dump(&cfg, out);

	if (any_ctl) {	/* a plug-in controller's: not part of the configuration */
		fprintf(out, "# the controller's own parameters (qiki-agent --controller-param NAME=VALUE):\n");
		for (uint32_t i = 0; i < st.n; i++)
			if (!(st.p[i].flags & QK_PARAMF_CONFIG))
				fprintf(out, "#   %s=%s\n", st.p[i].name +
					(strncmp(st.p[i].name, "controller.", 11) ? 0 : 11),
					shortest(st.p[i].value, num, sizeof(num)));
	}
	return ret ? ret : fflush(out) || ferror(out) ? -EIO : 0;
}

void qk_ctl_param_report(const struct qk_param_status *st, uint64_t *next, uint64_t to_cycle,
			 FILE *out)
{
	if (st->n_changes - *next > QK_PARAM_HISTORY)
		*next = st->n_changes - QK_PARAM_HISTORY;	/* older ones are gone */
	for (; *next < st->n_changes; ++*next) {
		const struct qk_param_change *c = &st->changes[*next % QK_PARAM_HISTORY];

		/* recorded with the cycle last answered: it came after that
		 * cycle's tick, so after a transition of the same cycle */
		if (c->cycle >= to_cycle && to_cycle != UINT64_MAX)
			return;
		fprintf(out, "  cycle %-8llu param %s %g -> %g\n", (unsigned long long)c->cycle,
			c->index < st->n ? st->p[c->index].name : "?", c->old_value, c->value);
	}
}

void qk_ctl_param_history(const struct qk_param_status *st, uint64_t *next, int64_t to_ns,
			  int64_t epoch_ns, struct qk_json *j, FILE *out)
{
	uint64_t n = st->n_changes;

	if (n - *next > QK_PARAM_HISTORY)
		*next = n - QK_PARAM_HISTORY;	/* older ones are gone */
	for (; *next < n; ++*next) {
		const struct qk_param_change *c = &st->changes[*next % QK_PARAM_HISTORY];
		const char *name = c->index < st->n ? st->p[c->index].name : "?";
		char who[24];

		if (c->time_ns > to_ns)
			return;
		if (j) {
			qk_json_obj(j, NULL);
			qk_json_f64(j, "time_s", (double)(c->time_ns - epoch_ns) / 1e9);
			qk_json_u64(j, "cycle", c->cycle);
			qk_json_str(j, "param", name);
			qk_json_f64(j, "from", c->old_value);
			qk_json_f64(j, "to", c->value);
			qk_json_i64(j, "who", c->who);
			qk_json_close(j);
			continue;
		}
		snprintf(who, sizeof(who), "pid %d", (int)c->who);
		/* the transition's columns: FROM and TO hold the values, TRIGGER the name */
		fprintf(out, "%-12.3f %-10llu %-9.6g %-9.6g param %-10s %s\n",
			(double)(c->time_ns - epoch_ns) / 1e9, (unsigned long long)c->cycle,
			c->old_value, c->value, name, who);
	}
}
