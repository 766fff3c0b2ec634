// One event stream per page, shared by every view: views subscribe to the state changes they show.
const listeners = new Set();

export const bus = {
  subscribe(listener) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  emit(event) {
    for (const listener of listeners) listener(event);
  },
};
