/** Priority classes, most urgent first: a waiting call of an earlier class always starts before a later one. */
export const PRIORITY_CLASSES = ['interactive', 'default', 'batch'] as const;
/** One of the {@link PRIORITY_CLASSES}. */
export type PriorityClass = (typeof PRIORITY_CLASSES)[number];

/** Whether `name` is one of the {@link PRIORITY_CLASSES}. */
export function isPriorityClass(name: string | undefined): name is PriorityClass {
  return (PRIORITY_CLASSES as readonly string[]).includes(name ?? '');
}

/** The class named in call metadata; anything else is `default`. */
export function priorityClass(name: string | undefined): PriorityClass {
  return isPriorityClass(name) ? name : 'default';
}

/** Whether class `a` is more urgent than class `b`. */
export function moreUrgent(a: PriorityClass, b: PriorityClass): boolean {
  return PRIORITY_CLASSES.indexOf(a) < PRIORITY_CLASSES.indexOf(b);
}
