/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ctl/scenario.h - scenarios: a YAML file of steps that `qiki run --scenario`
 * plays against the running loop, as an operator at a console would, and
 * checks as it goes.  A failed expectation ends the run with its own exit
 * code, naming the step, what was expected and what was seen, so a scenario
 * is also a regression test.
 *
 * A step has a trigger, then an action and/or an expectation:
 *
 *   steps:
 *     - when: state == IDLE          # trigger: a condition (default timeout 30 s)
 *       timeout: 5s
 *     - do: setpoint 10 0 0          # no trigger: right after the previous step
 *     - do: state ACTIVE
 *     - when: setpoint reached
 *     - at: 12s                      # trigger: time since the run started
 *       do: fault tank_pressure bias 30
 *     - after: 500ms                 # trigger: time since the previous step
 *     - expect: state == SAFE within 50 cycles
 *     - expect: reason == tank-pressure
 *     - do: state RESET
 *       expect: refused              # the reply, instead of a condition
 *
 * Actions are qikictl's words: `state NAME|RESET`, `setpoint X Y Z`,
 * `fault DEVICE KIND [VALUE]`, `fault clear DEVICE|all`, `param NAME VALUE`
 * (a runtime parameter, rt/agent/param.h: `do: param controller.kp 2.5`,
 * or as its own key, `param: controller.kp 2.5`); each must be accepted
 * unless the step expects `refused`.  A parameter's name is checked against
 * the profile at load (any controller.NAME passes: a plug-in controller
 * declares its own), its range by the agent when the step runs.  Conditions: `state == NAME`,
 * `state != NAME`, `reason == TRIGGER` (the last transition's), `setpoint
 * reached` (within 0.2 m of it and slower than 0.1 m/s), and `position.x`,
 * `.y`, `.z`, `velocity.x|y|z`, `speed` compared with <, <=, >, >=, == or !=
 * to a number.  `within N cycles` gives an expectation N sensor cycles to
 * become true (a state is judged exactly, by the cycles the transition
 * history records); without it, it must hold when the step runs.
 *
 * Runs in real time: conditions are sampled every poll (20 ms in qiki run)
 * except states, which come from the transition history.  In lockstep
 * (qk_scenario_step()) they are judged at every cycle, exactly.
 *
 * Contract: one thread (the launcher's); it reads the segment like qikictl
 * and sends requests through ctl/client.h.  Not for the loop.
 */
#ifndef QK_CTL_SCENARIO_H
#define QK_CTL_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "rt/config/config.h"
#include "shm/seg.h"

enum qk_scn_result { QK_SCN_RUNNING, QK_SCN_PASSED, QK_SCN_FAILED };

struct qk_scenario;

/* Reads and checks a scenario against the configuration (device names,
 * fault kinds).  NULL with why = "FILE:LINE:COL: what is wrong". */
struct qk_scenario *qk_scenario_load(const char *path, const struct qk_config *cfg,
				     char *why, size_t n);

/* Advances the scenario as far as it can now.  `say`: where each step is
 * reported as it passes (NULL: silent); `erase`: clear a live status line
 * on a terminal first. */
enum qk_scn_result qk_scenario_poll(struct qk_scenario *s, struct qk_seg *seg, int64_t now_ns,
				    FILE *say, bool erase);

/* Lockstep (ctl/gate.h): the sim is held before `cycle`.  Plays what is due
 * there, the clock being the simulated time (cycle x period), and says in
 * *next the cycle at which to be held next: the one after, while a
 * condition, an expectation or a reply is pending, or the cycle an `at:` or
 * `after:` step is due.  An action is queued, not waited for: its reply is
 * judged at the next stop.  So every step happens at the same cycle in
 * every run. */
enum qk_scn_result qk_scenario_step(struct qk_scenario *s, struct qk_seg *seg, uint64_t cycle,
				    uint64_t *next, FILE *say, bool erase);

/* The run ended (the loop stopped) while the scenario was still running. */
void qk_scenario_cut(struct qk_scenario *s);

enum qk_scn_result qk_scenario_result(const struct qk_scenario *s);
/* Why it failed: "demo.yaml:14: step 6 'expect: ...': ... seen ...". */
const char *qk_scenario_failure(const struct qk_scenario *s);

/* The result, the transitions with their reasons, and each setpoint's time
 * to reach, overshoot and settling time. */
void qk_scenario_report(const struct qk_scenario *s, struct qk_seg *seg, FILE *out);

void qk_scenario_destroy(struct qk_scenario *s);

#endif
