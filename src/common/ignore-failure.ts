// The one way a failure is let go on purpose: `.catch(ignoreFailure('why'))`. A bare empty
// catch handler hides both the error and the reason it may be dropped; the reason written in
// the call is what a reader (or a review) weighs when an error seems to have gone missing. A
// failure that matters to the caller is not let go here: it is thrown, reported or kept as the
// first cause beside the one being thrown.

/** A `.catch` handler that lets a failure go, for the reason `why` (the caller reads undefined instead). */
export function ignoreFailure(why: string): (error: unknown) => undefined {
  void why;
  return () => undefined;
}

/** A `.catch` handler for a failure that means `value` (an empty listing, 'unreachable'), for the reason `why`. */
export function failureMeans<T>(value: T, why: string): (error: unknown) => T {
  void why;
  return () => value;
}

/** A `.catch` handler for a file that need not be there: ENOENT means `value`; any other failure (EACCES, EISDIR) is thrown, never taken for "not there". */
export function missingMeans<T>(value: T): (error: unknown) => T {
  return (error) => {
    if ((error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return value;
    throw error;
  };
}
