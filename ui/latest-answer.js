/**
 * A refetch whose answers are applied only when newer than the last one applied: refetches can
 * answer out of order, and an older answer must never replace a newer one. `stop()` drops every
 * answer still to come (the view is gone).
 */
export function latestAnswer(load, onAnswer, onFailure) {
  let live = true;
  let started = 0;
  let applied = 0;
  const refresh = () => {
    const sequence = ++started;
    return load().then(
      (result) => {
        if (!live || sequence < applied) return;
        applied = sequence;
        onAnswer(result);
      },
      (failure) => live && onFailure(failure),
    );
  };
  refresh.stop = () => {
    live = false;
  };
  return refresh;
}
