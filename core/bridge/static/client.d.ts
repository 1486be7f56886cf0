// TypeScript declarations of the paycode bridge client (/v1/client.js). docs/bridge.md describes the API.

export type PaymentState =
  | "waiting_for_scan"
  | "processing"
  | "paid"
  | "declined"
  | "closed"
  | "cancelled"
  | "unresolved"
  | "failed";

export interface PaymentData {
  reference: string;
  lane: string;
  /** decimal text, e.g. "12.50" */
  amount: string;
  currency: string;
  state: PaymentState;
  final: boolean;
  /** the gateway's status: INIT, PROCESSING, SUCCESS, FAILED, CLOSED, CANCEL, UNKNOWN */
  status: string | null;
  wallet: string | null;
  wallet_label?: string | null;
  /** the payment code, masked: 1300**********0003 */
  code: string | null;
  transaction_id: string | null;
  refunded: string;
  error: { code: string; message: string } | null;
  cancel_requested: boolean;
  created_at: string | null;
  updated_at: string | null;
  deadline_at?: string | null;
}

export interface Refund {
  reference: string;
  refund_id: string | null;
  amount: string;
  currency: string;
  status: string;
  /** total refunded on the payment */
  refunded: string;
}

export interface Lane {
  name: string;
  scanner: string | null;
  scanner_state: "none" | "open" | "gone" | "reopening" | "closed";
  scanner_error?: string | null;
  last_scan_at: string | null;
  busy: boolean;
  payment: string | null;
  counts: Record<string, number>;
  /** the scanner's health and statistics; null for a lane without a scanner */
  scanner_stats: ScannerStats | null;
}

/** Health and statistics of a lane's scanner since the bridge started (counts, times as ISO 8601 UTC). */
export interface ScannerStats {
  scanner: string;
  state: "open" | "waiting" | "ended" | "closed";
  healthy: boolean;
  scans: number;
  repeats: number;
  discarded: Record<string, number>;
  discarded_total: number;
  errors: number;
  losses: number;
  reconnects: number;
  feedback: number;
  feedback_kinds: string[];
  last_error: string | null;
  opened_at: string | null;
  last_scan: string | null;
  last_seen: string | null;
}

/** One event of the stream: the JSON of `paycode pay --json` lines, plus `id` and `lane`. */
export interface PaycodeEvent {
  /** BOOT-N; null for stream.reset and stream.gap */
  id: string | null;
  /** scan, classified, payment.request, payment.state, payment.updated, scanner.gone, stream.reset, … */
  event: string;
  order: string | null;
  time?: number;
  lane?: string;
  /** on payment.updated: the whole payment */
  payment?: PaymentData;
  [field: string]: unknown;
}

export interface PayOptions {
  amount: string;
  currency: string;
  reference?: string;
  /** the code, when read elsewhere; otherwise the lane's scanner supplies it */
  code?: string;
  lane?: string;
  /** default: a new random key per call */
  idempotencyKey?: string;
}

export interface ListOptions {
  since?: string | Date;
  status?: PaymentState;
  lane?: string;
  limit?: number;
}

export interface ClientOptions {
  /** the default lane of pay() */
  lane?: string;
  /** a WebSocket implementation (default: globalThis.WebSocket) */
  WebSocket?: unknown;
  /** a fetch implementation (default: globalThis.fetch) */
  fetch?: typeof fetch;
}

export class PaycodeError extends Error {
  /** the HTTP status; 0 when the bridge could not be reached */
  status: number;
  code: string;
  field: string | null;
}

declare class Emitter<Events> {
  on<K extends keyof Events>(type: K, fn: (value: Events[K]) => void): () => void;
  off<K extends keyof Events>(type: K, fn: (value: Events[K]) => void): void;
}

export class Payment extends Emitter<{ event: PaycodeEvent; update: PaymentData }> {
  readonly reference: string;
  readonly data: PaymentData;
  readonly state: PaymentState;
  readonly final: boolean;
  /** resolves with the payment once its state is final */
  readonly done: Promise<PaymentData>;
  cancel(): Promise<PaymentData>;
  refund(options: { amount: string; currency?: string }): Promise<Refund>;
  refresh(): Promise<PaymentData>;
}

export class Paycode extends Emitter<{
  event: PaycodeEvent;
  connected: { lastEventId: string | null };
  disconnected: { code: number; reason: string };
}> {
  constructor(url: string, token: string, options?: ClientOptions);
  readonly url: string;
  lastEventId: string | null;
  readonly connected: boolean;
  pay(options: PayOptions): Promise<Payment>;
  payment(reference: string): Promise<Payment>;
  get(reference: string): Promise<PaymentData>;
  list(options?: ListOptions): Promise<PaymentData[]>;
  lanes(): Promise<Lane[]>;
  connect(): Promise<void>;
  close(): void;
}

export const FINAL_STATES: Set<PaymentState>;
export default Paycode;
