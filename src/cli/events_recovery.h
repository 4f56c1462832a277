/* punchlab events recovery: the recovery-time table (src/cli/events_recovery.c). */
#pragma once

int events_recovery_main(int argc, char **argv);
