import { createContext } from 'react';
import type { ViewSwitchValue } from './ViewSwitch';

/**
 * The view and its setter, handed from App to the top bar without passing
 * through the Dashboard (which renders the bar): no provider, no switch.
 */
export const ViewSwitchContext = createContext<ViewSwitchValue | null>(null);
