import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Client, WhoAmI } from './api';

/** Who is signed in, with the client every page calls the API through. */
export interface Session {
  readonly client: Client;
  readonly me: WhoAmI;
  /** How the console authenticates: the session cookie, a pasted token (in memory), or nothing (open node). */
  readonly via: 'cookie' | 'token' | 'open';
}

export const SessionContext = createContext<Session | undefined>(undefined);

/** The signed-in session; pages are only rendered inside one. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in page');
  return session;
}
