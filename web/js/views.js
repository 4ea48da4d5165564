// The views of the shell, in navigation order. A module adds its screen with ONE import
// line and ONE entry in the array (keep one per line so parallel edits don't collide).
// A view is { id, titleKey, mount(rootElement, ctx) -> { unmount(), focus?() }, allowed?(principal) }.
import { unitsView } from './units.js';
import { reportsView } from './reports.js';
import { opsView } from './ops.js';
import { servicesView } from './services.js';

export const VIEWS = [
  unitsView,
  reportsView,
  opsView,
  servicesView,
];
