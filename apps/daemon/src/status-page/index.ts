/** brambled's status page and fleet endpoints. */
export { type FleetRoutes, type FleetSources, fleetRoutes, plainAddress, reportedSerial } from './routes.js';
export {
  adoptCommand,
  type FleetPacing,
  type FleetSnapshot,
  fleetSnapshot,
  type KnockingPi,
  suggestedHostname,
} from './snapshot.js';
