import type { FastifyInstance } from 'fastify';
import { authorize } from '../../access/authorize.js';
import type { GlobalPrivilege } from '../../access/permissions.js';
import type { ControlContext } from '../../control/context.js';
import {
  addMember,
  createGroup,
  deleteGroup,
  getGroup,
  listGroups,
  removeMember,
  setGroupPrivileges,
} from '../../control/groups.js';
import { createUser, deleteUser, getUser, listUsers, setPassword, setUserDisabled } from '../../control/users.js';
import { API_PREFIX } from '../prefix.js';
import { groupSchema, namesParams, resourceName, userSchema } from '../schemas.js';

const privilegesSchema = { type: 'array', items: { type: 'string', enum: ['admin', 'create_service'] } } as const;
const passwordSchema = { type: 'string', maxLength: 1024, description: '12-256 characters, not a common password' };
const ADMIN = { global: 'admin' } as const;

/**
 * Users and groups (D2): managed by global admins (node keys, admin keys, users with `admin`);
 * a user may read itself and change its own password.
 */
export async function peopleRoutes(app: FastifyInstance, opts: { control: ControlContext }): Promise<void> {
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
        summary: 'Create a user (global admins)',
        body: {
          type: 'object',
          required: ['username', 'password'],
          additionalProperties: false,
          properties: {
            username: resourceName,
            password: passwordSchema,
            groups: { type: 'array', items: resourceName },
          },
        },
        response: { 201: userSchema },
      },
    },
    async (req, reply) => {
      await authorize(ctx, req.principal, ADMIN);
      reply.code(201);
      return createUser(ctx, req.body);
    },
  );

  app.get(
    users,
    {
      schema: {
        tags: ['users'],
        summary: 'List users (global admins)',
        response: { 200: { type: 'object', properties: { users: { type: 'array', items: userSchema } } } },
      },
    },
    async (req) => {
      await authorize(ctx, req.principal, ADMIN);
      return { users: await listUsers(ctx) };
    },
  );

  app.get<{ Params: { username: string } }>(
    `${users}/:username`,
    {
      schema: {
        tags: ['users'],
        summary: 'Show a user',
        params: namesParams('username'),
        response: { 200: userSchema },
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
        summary: 'Delete a user, its sessions, memberships and ownerships',
        params: namesParams('username'),
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
          summary: disabled ? 'Disable a user: its sessions end at once' : 'Enable a user again',
          params: namesParams('username'),
          response: { 200: userSchema },
        },
      },
      async (req) => {
        await authorize(ctx, req.principal, ADMIN);
        return setUserDisabled(ctx, req.params.username, disabled);
      },
    );
  }

  app.put<{ Params: { username: string }; Body: { password: string } }>(
    `${users}/:username/password`,
    {
      schema: {
        tags: ['users'],
        summary: 'Set a password (the user itself, or a global admin); other sessions end',
        params: namesParams('username'),
        body: {
          type: 'object',
          required: ['password'],
          additionalProperties: false,
          properties: { password: passwordSchema },
        },
      },
    },
    async (req, reply) => {
      if (!isSelf(req.principal, req.params.username)) await authorize(ctx, req.principal, ADMIN);
      await setPassword(ctx, req.params.username, req.body.password, req.principal.session);
      return reply.code(204).send();
    },
  );

  app.post<{ Body: { name: string; privileges?: GlobalPrivilege[] } }>(
    groups,
    {
      schema: {
        tags: ['groups'],
        summary: 'Create a group with global privileges (global admins)',
        body: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: { name: resourceName, privileges: privilegesSchema },
        },
        response: { 201: groupSchema },
      },
    },
    async (req, reply) => {
      await authorize(ctx, req.principal, ADMIN);
      reply.code(201);
      return createGroup(ctx, req.body);
    },
  );

  app.get(
    groups,
    {
      schema: {
        tags: ['groups'],
        summary: 'List groups (global admins)',
        response: { 200: { type: 'object', properties: { groups: { type: 'array', items: groupSchema } } } },
      },
    },
    async (req) => {
      await authorize(ctx, req.principal, ADMIN);
      return { groups: await listGroups(ctx) };
    },
  );

  app.get<{ Params: { name: string } }>(
    `${groups}/:name`,
    {
      schema: {
        tags: ['groups'],
        summary: 'Show a group',
        params: namesParams('name'),
        response: { 200: groupSchema },
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
        summary: 'Replace a group’s global privileges',
        params: namesParams('name'),
        body: {
          type: 'object',
          required: ['privileges'],
          additionalProperties: false,
          properties: { privileges: privilegesSchema },
        },
        response: { 200: groupSchema },
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
        summary: 'Delete a group with its memberships and grants',
        params: namesParams('name'),
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
        summary: 'Add a user to a group (idempotent)',
        params: namesParams('name', 'username'),
        response: { 200: groupSchema },
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
        summary: 'Remove a user from a group: its rights end on the next request',
        params: namesParams('name', 'username'),
      },
    },
    async (req, reply) => {
      await authorize(ctx, req.principal, ADMIN);
      await removeMember(ctx, req.params.name, req.params.username);
      return reply.code(204).send();
    },
  );
}
