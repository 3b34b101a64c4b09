import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ModelgateError } from '../../../kernel/errors.js';
import type { GlobalPrivilege } from '../../../kernel/permissions.js';
import { authorize } from '../../access/authorize.js';
import type { ControlContext } from '../../operations/context.js';
import {
  addMember,
  createGroup,
  deleteGroup,
  getGroup,
  listGroups,
  removeMember,
  setGroupPrivileges,
} from '../../operations/groups.js';
import { createUser, deleteUser, getUser, listUsers, setPassword, setUserDisabled } from '../../operations/users.js';
import type { SessionService } from '../../sessions/service.js';
import { errors, noContent } from '../openapi.js';
import { type PageQuery, pageOf, pageQuery } from '../paging.js';
import { API_PREFIX } from '../prefix.js';
import { namesParams, ref } from '../schemas.js';

const ADMIN = { global: 'admin' } as const;

/**
 * Users and groups (D2): managed by global admins (node keys, admin keys, users with `admin`);
 * a user may read itself and change its own password with the current one (issue 17); a global
 * admin resets another user's on a route of its own, so the audit log tells the two apart.
 */
export async function peopleRoutes(
  app: FastifyInstance,
  opts: {
    control: ControlContext;
    /** Checks a self-change's current password; undefined when token authorization is off (nobody is a user). */
    sessions: SessionService | undefined;
    clientAddress: (req: FastifyRequest) => string;
  },
): Promise<void> {
  const ctx = opts.control;
  const users = `${API_PREFIX}/users`;
  const groups = `${API_PREFIX}/groups`;
  const isSelf = (principal: { kind: string; name?: string }, username: string) =>
    principal.kind === 'user' && principal.name === username;

  app.post<{ Body: { username: string; password: string; groups?: string[] } }>(
    users,
    {
      schema: {
        tags: ['users'],
        operationId: 'createUser',
        summary: 'Create a user (global admins)',
        body: ref('CreateUserRequest'),
        response: { 201: ref('User'), ...errors(404, 409) },
      },
    },
    async (req, reply) => {
      await authorize(ctx, req.principal, ADMIN);
      reply.code(201);
      return createUser(ctx, req.body);
    },
  );

  app.get<{ Querystring: PageQuery }>(
    users,
    {
      schema: {
        tags: ['users'],
        operationId: 'listUsers',
        summary: 'List users (global admins)',
        querystring: pageQuery,
        response: { 200: ref('UserList') },
      },
    },
    async (req) => {
      await authorize(ctx, req.principal, ADMIN);
      const page = pageOf('users', await listUsers(ctx), (u) => u.username, req.query);
      return { users: page.items, next_cursor: page.next_cursor };
    },
  );

  app.get<{ Params: { username: string } }>(
    `${users}/:username`,
    {
      schema: {
        tags: ['users'],
        operationId: 'getUser',
        summary: 'Show a user',
        params: namesParams('username'),
        response: { 200: ref('User') },
      },
    },
    async (req) => {
      if (!isSelf(req.principal, req.params.username)) await authorize(ctx, req.principal, ADMIN);
      return getUser(ctx, req.params.username);
    },
  );

  app.delete<{ Params: { username: string } }>(
    `${users}/:username`,
    {
      schema: {
        tags: ['users'],
        operationId: 'deleteUser',
        summary: 'Delete a user, its sessions, memberships and ownerships',
        params: namesParams('username'),
        response: { ...noContent, ...errors(409) },
      },
    },
    async (req, reply) => {
      await authorize(ctx, req.principal, ADMIN);
      await deleteUser(ctx, req.params.username);
      return reply.code(204).send();
    },
  );

  for (const [verb, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    app.post<{ Params: { username: string } }>(
      `${users}/:username/${verb}`,
      {
        schema: {
          tags: ['users'],
          operationId: disabled ? 'disableUser' : 'enableUser',
          summary: disabled ? 'Disable a user: its sessions end at once' : 'Enable a user again',
          params: namesParams('username'),
          response: { 200: ref('User'), ...errors(409) },
        },
      },
      async (req) => {
        await authorize(ctx, req.principal, ADMIN);
        return setUserDisabled(ctx, req.params.username, disabled);
      },
    );
  }

  app.put<{ Params: { username: string }; Body: { password: string; current_password?: string } }>(
    `${users}/:username/password`,
    {
      schema: {
        tags: ['users'],
        operationId: 'setUserPassword',
        summary: 'Change your own password, giving the current one; your other sessions end',
        description:
          'Only for the caller’s own account (a session or an API token with ops access). Wrong current passwords are throttled like sign-ins. A global admin resets another user’s password with `POST /users/{username}/password-reset`.',
        params: namesParams('username'),
        body: ref('ChangePasswordRequest'),
        response: { ...noContent, ...errors(409, 429) },
      },
    },
    async (req, reply) => {
      if (!isSelf(req.principal, req.params.username) || !opts.sessions)
        throw new ModelgateError('PASSWORD_WRONG_ROUTE');
      const current = req.body.current_password;
      if (current === undefined) throw new ModelgateError('CURRENT_PASSWORD_REQUIRED');
      // Sign-in's own check: its failure limits per username and address and its scrypt cap, so a
      // stolen session or token guesses the password no faster than the sign-in form (429 past them).
      const checked = await opts.sessions.check(req.params.username, current, opts.clientAddress(req));
      if (!checked.ok) throw new ModelgateError('CURRENT_PASSWORD_WRONG');
      const session = req.principal.kind === 'user' ? req.principal.session : undefined;
      await setPassword(ctx, req.params.username, req.body.password, session);
      return reply.code(204).send();
    },
  );

  app.post<{ Params: { username: string }; Body: { password: string } }>(
    `${users}/:username/password-reset`,
    {
      schema: {
        tags: ['users'],
        operationId: 'resetUserPassword',
        summary: 'Reset another user’s password (global admins); all its sessions end',
        description:
          'No current password: this is an administrator’s reset, audited as `user.password_reset`. Your own password is changed with `PUT /users/{you}/password` and the current one.',
        params: namesParams('username'),
        body: ref('PasswordRequest'),
        response: { ...noContent, ...errors(409) },
      },
    },
    async (req, reply) => {
      await authorize(ctx, req.principal, ADMIN);
      // A stolen admin session must not take the admin's own account without its password.
      if (isSelf(req.principal, req.params.username)) throw new ModelgateError('PASSWORD_WRONG_ROUTE');
      await setPassword(ctx, req.params.username, req.body.password);
      return reply.code(204).send();
    },
  );

  app.post<{ Body: { name: string; privileges?: GlobalPrivilege[] } }>(
    groups,
    {
      schema: {
        tags: ['groups'],
        operationId: 'createGroup',
        summary: 'Create a group with global privileges (global admins)',
        body: ref('CreateGroupRequest'),
        response: { 201: ref('Group'), ...errors(409) },
      },
    },
    async (req, reply) => {
      await authorize(ctx, req.principal, ADMIN);
      reply.code(201);
      return createGroup(ctx, req.body);
    },
  );

  app.get<{ Querystring: PageQuery }>(
    groups,
    {
      schema: {
        tags: ['groups'],
        operationId: 'listGroups',
        summary: 'List groups (global admins)',
        querystring: pageQuery,
        response: { 200: ref('GroupList') },
      },
    },
    async (req) => {
      await authorize(ctx, req.principal, ADMIN);
      const page = pageOf('groups', await listGroups(ctx), (g) => g.name, req.query);
      return { groups: page.items, next_cursor: page.next_cursor };
    },
  );

  app.get<{ Params: { name: string } }>(
    `${groups}/:name`,
    {
      schema: {
        tags: ['groups'],
        operationId: 'getGroup',
        summary: 'Show a group',
        params: namesParams('name'),
        response: { 200: ref('Group') },
      },
    },
    async (req) => {
      await authorize(ctx, req.principal, ADMIN);
      return getGroup(ctx, req.params.name);
    },
  );

  app.patch<{ Params: { name: string }; Body: { privileges: GlobalPrivilege[] } }>(
    `${groups}/:name`,
    {
      schema: {
        tags: ['groups'],
        operationId: 'updateGroupPrivileges',
        summary: 'Replace a group’s global privileges',
        params: namesParams('name'),
        body: ref('PrivilegesRequest'),
        response: { 200: ref('Group'), ...errors(409) },
      },
    },
    async (req) => {
      await authorize(ctx, req.principal, ADMIN);
      return setGroupPrivileges(ctx, req.params.name, req.body.privileges);
    },
  );

  app.delete<{ Params: { name: string } }>(
    `${groups}/:name`,
    {
      schema: {
        tags: ['groups'],
        operationId: 'deleteGroup',
        summary: 'Delete a group with its memberships and grants',
        params: namesParams('name'),
        response: { ...noContent, ...errors(409) },
      },
    },
    async (req, reply) => {
      await authorize(ctx, req.principal, ADMIN);
      await deleteGroup(ctx, req.params.name);
      return reply.code(204).send();
    },
  );

  app.put<{ Params: { name: string; username: string } }>(
    `${groups}/:name/members/:username`,
    {
      schema: {
        tags: ['groups'],
        operationId: 'addGroupMember',
        summary: 'Add a user to a group (idempotent)',
        params: namesParams('name', 'username'),
        response: { 200: ref('Group'), ...errors(409) },
      },
    },
    async (req) => {
      await authorize(ctx, req.principal, ADMIN);
      return addMember(ctx, req.params.name, req.params.username);
    },
  );

  app.delete<{ Params: { name: string; username: string } }>(
    `${groups}/:name/members/:username`,
    {
      schema: {
        tags: ['groups'],
        operationId: 'removeGroupMember',
        summary: 'Remove a user from a group: its rights end on the next request',
        params: namesParams('name', 'username'),
        response: { ...noContent, ...errors(409) },
      },
    },
    async (req, reply) => {
      await authorize(ctx, req.principal, ADMIN);
      await removeMember(ctx, req.params.name, req.params.username);
      return reply.code(204).send();
    },
  );
}
