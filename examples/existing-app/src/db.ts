// The app's data: a small in-memory database of users and their todos. A
// real app has its own (Postgres, Prisma, …); Morgan never touches it.

import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';

/** A user as the app shows it: no password hash. */
export type User = { id: string; name: string };
/** A todo (a type alias, not an interface, so it is a JSON value that `manager.publish` takes). */
export type Todo = { id: number; userId: string; text: string };

interface StoredUser extends User {
  username: string;
  salt: Buffer;
  hash: Buffer;
}

function hashPassword(password: string, salt: Buffer): Buffer {
  return scryptSync(password, salt, 32);
}

/**
 * Users (with scrypt password hashes) and todos, plus an `added` event per
 * new todo for live subscriptions.
 *
 * @example
 * const db = createDb([{ id: 'u1', name: 'Alice', username: 'alice', password: 'wonderland' }]);
 * db.verifyPassword('alice', 'wonderland'); // → { id: 'u1', name: 'Alice' }
 */
export function createDb(users: readonly (User & { username: string; password: string })[]) {
  const byUsername = new Map<string, StoredUser>();
  for (const { password, ...user } of users) {
    const salt = randomBytes(16);
    byUsername.set(user.username, { ...user, salt, hash: hashPassword(password, salt) });
  }
  const todos: Todo[] = [];
  const events = new EventEmitter<{ added: [Todo] }>();
  const publicUser = ({ id, name }: StoredUser): User => ({ id, name });

  return {
    events,
    /** The user whose password this is, or undefined (in time independent of the password). */
    verifyPassword(username: string, password: string): User | undefined {
      const user = byUsername.get(username);
      if (user === undefined) return undefined;
      return timingSafeEqual(hashPassword(password, user.salt), user.hash)
        ? publicUser(user)
        : undefined;
    },
    userById(id: string): User | undefined {
      for (const user of byUsername.values()) if (user.id === id) return publicUser(user);
      return undefined;
    },
    todosOf(userId: string): Todo[] {
      return todos.filter((todo) => todo.userId === userId);
    },
    addTodo(userId: string, text: string): Todo {
      const todo = { id: todos.length + 1, userId, text };
      todos.push(todo);
      events.emit('added', todo);
      return todo;
    },
  };
}

export type Db = ReturnType<typeof createDb>;
