#!/usr/bin/env node
/**
 * Test-only Wechaty gateway for Qunguan's integration tests.
 *
 * A real `PuppetServer` (npm wechaty-puppet-service) serving gRPC on
 * 127.0.0.1 without TLS, backed by `PuppetMock` + `Mocker`
 * (npm wechaty-puppet-mock). A Python `wechaty` client connects to it with
 *   WECHATY_PUPPET_SERVICE_ENDPOINT=127.0.0.1:<port>
 *   WECHATY_PUPPET_SERVICE_TOKEN=<token>
 * and a test drives the mocked WeChat world through a small JSON-over-HTTP
 * control channel on 127.0.0.1 (see README.md beside this file).
 *
 * Usage:  node gateway.mjs [--port N] [--control-port N] [--watch-stdin]
 *   --port / GATEWAY_PORT                  gRPC port, 0 (default) = pick a free one
 *   --control-port / GATEWAY_CONTROL_PORT  HTTP port, 0 (default) = pick a free one
 *   --watch-stdin                          exit when stdin reaches EOF (parent died)
 *   WECHATY_PUPPET_SERVICE_TOKEN           token, must start with `insecure_`
 *                                          (default insecure_qunguan_test)
 *   GATEWAY_BOT_ID / GATEWAY_BOT_NAME      the bot account (default qunguan-bot / 群管机器人)
 *   WECHATY_LOG                            wechaty log level (default warn; logs go to stderr)
 *
 * stdout carries exactly one JSON line:
 *   {"ready": true, "port": N, "control_port": M, "endpoint": "127.0.0.1:N",
 *    "token": "...", "bot_id": "...", "pid": P, "startup_ms": T}
 */
import http from 'node:http'
import net from 'node:net'
import { randomUUID } from 'node:crypto'

const T0 = Date.now()

// Everything but our one JSON line goes to stderr: brolog (wechaty's logger)
// prints info/verbose with console.info/console.log, i.e. to stdout.
console.log = console.info = console.debug = (...a) => console.error(...a)
process.noDeprecation = true // grpc-js warns that PuppetServer's server.start() is obsolete

const { log, types: PUPPET_TYPES } = await import('wechaty-puppet')
const { PuppetServer } = await import('wechaty-puppet-service')
const { PuppetMock, mock } = await import('wechaty-puppet-mock')
const { FileBox } = await import('file-box')

log.level(process.env.WECHATY_LOG || 'warn')

// ---------------------------------------------------------------- options
function arg (name, envName, dflt) {
  const i = process.argv.indexOf(name)
  if (i > 0 && process.argv[i + 1] !== undefined) return process.argv[i + 1]
  return process.env[envName] ?? dflt
}
const WANT_PORT = Number(arg('--port', 'GATEWAY_PORT', '0'))
const CONTROL_PORT = Number(arg('--control-port', 'GATEWAY_CONTROL_PORT', '0'))
const TOKEN = process.env.WECHATY_PUPPET_SERVICE_TOKEN || 'insecure_qunguan_test'
const BOT_ID = process.env.GATEWAY_BOT_ID || 'qunguan-bot'
const BOT_NAME = process.env.GATEWAY_BOT_NAME || '群管机器人'
if (!TOKEN.startsWith('insecure_')) {
  console.error('gateway: token must start with "insecure_" (TLS is disabled)')
  process.exit(2)
}

// ---------------------------------------------------------------- state
const sent = [] // every message the bot sent (or tried to send), in order
const actions = [] // other things the bot did: accept friendship, add/remove member, set topic
const friendships = new Map() // friendshipId -> FriendshipPayload
const posted = new Map() // messageId -> what a message that is not a text carries (see POST /room/post)
let seq = 0
let failNext = { count: 0, error: '操作过于频繁' } // injected send failures
let echoSelf = true // real puppets echo the bot's own messages back as `message` events
let slowPayloads = { count: 0, ms: 0 } // the next `count` message payload lookups take `ms` longer
let payloadsWaiting = 0 // lookups being held back right now
let slowSends = { skip: 0, count: 0, ms: 0 } // after `skip` sends, the next `count` reach WeChat but answer `ms` late
let sendsHeld = 0 // sends whose answer to the bot was held back, ever (one more each time one starts waiting)
const notAdmin = new Set() // rooms where the bot is neither owner nor admin: WeChat refuses its removals there
const NOT_ADMIN = '只有群主或管理员才能移出群成员' // what WeChat answers then
const NOT_ADMIN_ANNOUNCE = '只有群主或管理员才能修改群公告' // and to an announcement there
const announcements = new Map() // roomId -> the group announcement the bot set

/**
 * PuppetMock with the holes that matter to a client filled in:
 *  - messageSendText returns a message id (stock: undefined -> python `say()` fails),
 *    keeps mentionIdList (stock: dropped) and records the send;
 *  - private messages to non-friends fail, like WeChat;
 *  - friendship payloads are real; accepting one makes the contact a friend;
 *  - room add/del/topic by the bot change the room and emit the events WeChat would;
 *  - a removal in a room where the bot is no owner or admin (POST /room/admin) fails, as WeChat refuses it;
 *  - the bot's room announcements are recorded (stock: dropped), and refused there too;
 *  - link cards, mini-programs, contact cards and pictures posted with /room/post carry what was posted
 *    (stock: a fixed mock title, an empty contact, a picture of the QR code 'fake-qrcode').
 */
class GatewayPuppet extends PuppetMock {
  async messageSendText (conversationId, text, mentionIdList = []) {
    const isRoom = conversationId.includes('@') // mock convention: room ids contain '@'
    const record = {
      seq: ++seq,
      id: null,
      room_id: isRoom ? conversationId : null,
      to_id: isRoom ? null : conversationId,
      text,
      mention_ids: [...(mentionIdList || [])],
      ts: Date.now(),
      error: null,
    }
    sent.push(record)
    try {
      if (failNext.count > 0) { failNext.count--; throw new Error(failNext.error) }
      if (!this.isLoggedIn) throw new Error('not logged in')
      if (isRoom) {
        this.mocker.RoomMock.load(conversationId) // throws if unknown
      } else {
        const c = this.mocker.contactPayload(conversationId) // throws if unknown
        if (!c.friend) throw new Error(`${conversationId} is not a friend of the bot`)
      }
    } catch (e) {
      record.error = e.message
      throw e
    }
    const id = 'm-' + randomUUID()
    record.id = id
    const base = { id, talkerId: this.currentUserId, text, timestamp: Date.now(), type: PUPPET_TYPES.Message.Text }
    this.mocker.MessageMock.create(isRoom
      ? { ...base, roomId: conversationId, mentionIdList: record.mention_ids }
      : { ...base, listenerId: conversationId })
    if (echoSelf) this.emit('message', { messageId: id })
    if (slowSends.skip > 0) {
      slowSends.skip--
    } else if (slowSends.count > 0) { // WeChat has the message; the bot hears so only later (kill it meanwhile)
      slowSends.count--
      sendsHeld++
      await new Promise(resolve => setTimeout(resolve, slowSends.ms))
    }
    return id
  }

  async messageRawPayload (id) {
    if (slowPayloads.count > 0) {
      slowPayloads.count--
      payloadsWaiting++
      try { await new Promise(resolve => setTimeout(resolve, slowPayloads.ms)) } finally { payloadsWaiting-- }
    }
    return super.messageRawPayload(id)
  }

  async messageUrl (id) {
    return posted.get(id)?.urlLink ?? super.messageUrl(id)
  }

  async messageMiniProgram (id) {
    return posted.get(id)?.miniProgram ?? super.messageMiniProgram(id)
  }

  async messageContact (id) {
    return posted.get(id)?.contactId ?? super.messageContact(id)
  }

  async messageImage (id, imageType) {
    const p = posted.get(id)
    return p?.image ? FileBox.fromBase64(p.image, p.name || 'picture.png') : super.messageImage(id, imageType)
  }

  async friendshipRawPayload (id) {
    const p = friendships.get(id)
    if (!p) throw new Error('no friendship ' + id)
    return p
  }

  async friendshipAccept (friendshipId) {
    const p = friendships.get(friendshipId)
    if (!p) throw new Error('no friendship ' + friendshipId)
    actions.push({ seq: ++seq, action: 'friendship_accept', friendship_id: friendshipId, contact_id: p.contactId, ts: Date.now() })
    this.mocker.contactPayload(p.contactId).friend = true
    this.onDirty({ payloadType: PUPPET_TYPES.Dirty.Contact, payloadId: p.contactId })
    // WeChat then reports the new friend as a `Confirm` friendship
    const confirmId = 'f-' + randomUUID()
    friendships.set(confirmId, { ...p, id: confirmId, type: PUPPET_TYPES.Friendship.Confirm, timestamp: Date.now() })
    setImmediate(() => this.emit('friendship', { friendshipId: confirmId }))
  }

  async roomAdd (roomId, contactId) {
    actions.push({ seq: ++seq, action: 'room_add', room_id: roomId, contact_id: contactId, ts: Date.now() })
    const room = this.mocker.RoomMock.load(roomId)
    room.add(this.mocker.ContactMock.load(contactId)).by(this.mocker.ContactMock.load(this.currentUserId))
    dirtyRoom(roomId)
  }

  async roomDel (roomId, contactId) {
    if (notAdmin.has(roomId)) {
      actions.push({ seq: ++seq, action: 'room_del_refused', room_id: roomId, contact_id: contactId, error: NOT_ADMIN, ts: Date.now() })
      throw new Error(NOT_ADMIN)
    }
    actions.push({ seq: ++seq, action: 'room_del', room_id: roomId, contact_id: contactId, ts: Date.now() })
    const room = this.mocker.RoomMock.load(roomId)
    room.remove(this.mocker.ContactMock.load(contactId)).by(this.mocker.ContactMock.load(this.currentUserId))
    dirtyRoom(roomId)
  }

  async roomAnnounce (roomId, text) {
    if (typeof text === 'undefined') return announcements.get(roomId) ?? ''
    if (notAdmin.has(roomId)) {
      actions.push({ seq: ++seq, action: 'room_announce_refused', room_id: roomId, text, error: NOT_ADMIN_ANNOUNCE, ts: Date.now() })
      throw new Error(NOT_ADMIN_ANNOUNCE)
    }
    this.mocker.RoomMock.load(roomId) // throws if unknown
    announcements.set(roomId, text)
    actions.push({ seq: ++seq, action: 'room_announce', room_id: roomId, text, ts: Date.now() })
  }

  async roomTopic (roomId, topic) {
    if (typeof topic === 'undefined') return this.mocker.roomPayload(roomId).topic
    actions.push({ seq: ++seq, action: 'room_topic', room_id: roomId, topic, ts: Date.now() })
    this.mocker.RoomMock.load(roomId).topic(topic).by(this.mocker.ContactMock.load(this.currentUserId))
    dirtyRoom(roomId)
  }
}

const mocker = new mock.Mocker()
const puppet = new GatewayPuppet({ mocker })
const server = new PuppetServer({
  endpoint: '', // set below once the port is known
  puppet,
  token: TOKEN,
  tls: { disable: true },
})

function dirtyRoom (roomId) {
  // Invalidate the puppet's payload caches directly (no `dirty` event to the client).
  puppet.onDirty({ payloadType: PUPPET_TYPES.Dirty.Room, payloadId: roomId })
  puppet.onDirty({ payloadType: PUPPET_TYPES.Dirty.RoomMember, payloadId: roomId })
}

// The bot's own account always exists and is a member of every room.
mocker.createContact({ id: BOT_ID, name: BOT_NAME, friend: false })

// ---------------------------------------------------------------- control API
const contact = id => {
  if (!mocker.cacheContactPayload.has(id)) throw new Error(`unknown contact "${id}"`)
  return mocker.ContactMock.load(id)
}
const room = id => {
  if (!mocker.cacheRoomPayload.has(id)) throw new Error(`unknown room "${id}"`)
  return mocker.RoomMock.load(id)
}
const ids = v => (Array.isArray(v) ? v : v ? [v] : [])
const POSTED_TYPES = {
  link: PUPPET_TYPES.Message.Url,
  miniprogram: PUPPET_TYPES.Message.MiniProgram,
  card: PUPPET_TYPES.Message.Contact,
  image: PUPPET_TYPES.Message.Image,
  file: PUPPET_TYPES.Message.Attachment,
}

const routes = {
  // {id, name, friend=true, alias?} -> {id}
  'POST /contact': b => {
    if (!b.id || !b.name) throw new Error('id and name are required')
    mocker.createContact({ id: b.id, name: b.name, friend: b.friend ?? true, alias: b.alias, weixin: b.id })
    return { id: b.id }
  },
  // {id (must contain "@", e.g. "r1@chatroom"), topic, members: [ids]} -> {id}; the bot is always a member
  'POST /room': b => {
    if (!b.id || !b.id.includes('@')) throw new Error('room id must contain "@" (e.g. "r1@chatroom")')
    const members = [...new Set([BOT_ID, ...ids(b.members)])]
    members.forEach(contact)
    mocker.createRoom({ id: b.id, topic: b.topic ?? b.id, memberIdList: members, ownerId: b.owner, adminIdList: [] })
    return { id: b.id }
  },
  // {} -> the bot account logs in (then `ready` 100 ms later)
  'POST /login': () => {
    if (puppet.isLoggedIn) throw new Error('already logged in')
    mocker.login(contact(BOT_ID))
    setTimeout(() => puppet.emit('ready', { data: 'ready' }), 100)
    return { bot_id: BOT_ID }
  },
  // {qrcode, status?="Waiting"} -> a `scan` event: the puppet asks for the login QR code to be scanned
  // (PuppetServer keeps the last one and sends it to a client that connects before the login)
  'POST /scan': b => {
    if (puppet.isLoggedIn) throw new Error('already logged in: POST /logout first')
    const status = PUPPET_TYPES.ScanStatus[b.status || 'Waiting']
    if (typeof status !== 'number') throw new Error(`unknown scan status "${b.status}"`)
    mocker.scan(b.qrcode || '', status)
    return {}
  },
  // {reason?} -> the bot account logs out
  'POST /logout': async b => {
    await puppet.logout(b.reason || 'logout by test')
    return {}
  },
  // {room, members: [ids], inviter} -> room-join
  'POST /room/join': b => {
    const r = room(b.room)
    r.add(...ids(b.members).map(contact)).by(contact(b.inviter || BOT_ID))
    dirtyRoom(b.room)
    return {}
  },
  // {room, members: [ids], by?} -> room-leave; no `by` = they left (remover = the leaver), `by` = removed by that member
  'POST /room/leave': b => {
    const r = room(b.room)
    const leavers = ids(b.members).map(contact)
    if (b.by) {
      r.remove(...leavers).by(contact(b.by))
    } else {
      for (const l of leavers) r.remove(l).by(l)
    }
    dirtyRoom(b.room)
    return {}
  },
  // {room, admin} -> whether the bot is the room's owner or admin (default true); when not, its removals and
  // announcements fail
  'POST /room/admin': b => {
    room(b.room)
    if (typeof b.admin !== 'boolean') throw new Error('admin (true or false) is required')
    if (b.admin) notAdmin.delete(b.room); else notAdmin.add(b.room)
    return {}
  },
  // {room, topic, by} -> room-topic
  'POST /room/topic': b => {
    room(b.room).topic(b.topic).by(contact(b.by || BOT_ID))
    dirtyRoom(b.room)
    return {}
  },
  // {room, from, text, mentions: [ids], ts?} -> message in the room; text is verbatim
  // (WeChat's own text carries "@Name\u2005" for each mention: include it yourself); `ts` (ms since the epoch)
  // is the message's time, e.g. the same in two gateways whose accounts are both in the group
  'POST /room/say': b => {
    if (b.ts !== undefined) {
      if (!Number.isInteger(b.ts) || b.ts <= 0) throw new Error('ts must be milliseconds since the epoch')
      const talker = contact(b.from)
      room(b.room)
      const id = 'm-' + randomUUID()
      mocker.MessageMock.create({
        id,
        talkerId: talker.id,
        roomId: b.room,
        mentionIdList: ids(b.mentions),
        text: b.text,
        timestamp: b.ts,
        type: PUPPET_TYPES.Message.Text,
      })
      puppet.emit('message', { messageId: id })
      return { id }
    }
    const before = mocker.cacheMessagePayload.size
    contact(b.from).say(b.text, ids(b.mentions).map(contact)).to(room(b.room))
    return { id: [...mocker.cacheMessagePayload.keys()][before] }
  },
  // {room, from, kind, ...} -> a message that is not a text, in the room. kind and what it carries:
  //   link: url, title, description?   miniprogram: title, appid?, username?, pagePath?   card: contact (an id)
  //   image: image (the picture's bytes, base64), name?   file: name
  'POST /room/post': b => {
    const type = POSTED_TYPES[b.kind]
    if (type === undefined) throw new Error(`kind must be one of ${Object.keys(POSTED_TYPES).join(', ')}`)
    const talker = contact(b.from)
    room(b.room)
    const carried = {
      link: () => ({ urlLink: { url: b.url || '', title: b.title || '', description: b.description || '' } }),
      miniprogram: () => ({
        miniProgram: { appid: b.appid, title: b.title, username: b.username, pagePath: b.pagePath },
      }),
      card: () => ({ contactId: contact(b.contact).id }),
      image: () => {
        if (!b.image) throw new Error('image (base64) is required')
        return { image: b.image, name: b.name }
      },
      file: () => ({}),
    }[b.kind]()
    const id = 'm-' + randomUUID()
    posted.set(id, carried)
    mocker.MessageMock.create({
      id,
      talkerId: talker.id,
      roomId: b.room,
      mentionIdList: [],
      text: '',
      filename: b.name || '',
      timestamp: Date.now(),
      type,
    })
    puppet.emit('message', { messageId: id })
    return { id }
  },
  // {from, text, to?=bot} -> private message
  'POST /contact/say': b => {
    const before = mocker.cacheMessagePayload.size
    contact(b.from).say(b.text).to(contact(b.to || BOT_ID))
    return { id: [...mocker.cacheMessagePayload.keys()][before] }
  },
  // {from, hello, id?} -> friendship request (type Receive) from an existing contact
  'POST /friendship': b => {
    const c = contact(b.from)
    const id = b.id || 'f-' + randomUUID()
    friendships.set(id, {
      id,
      contactId: c.id,
      hello: b.hello || '',
      type: PUPPET_TYPES.Friendship.Receive,
      ticket: 'ticket-' + id,
      scene: PUPPET_TYPES.FriendshipScene.Unknown,
      timestamp: Date.now(),
    })
    puppet.emit('friendship', { friendshipId: id })
    return { id }
  },
  // {id} -> the `message` event of a message already said, once more (a redelivery: the same message id)
  'POST /redeliver': b => {
    if (!mocker.cacheMessagePayload.has(b.id)) throw new Error(`unknown message "${b.id}"`)
    puppet.emit('message', { messageId: b.id })
    return {}
  },
  // ?since=SEQ -> {messages: [{seq, id, room_id, to_id, text, mention_ids, ts, error}]}
  'GET /sent': (_b, q) => ({ messages: sent.filter(m => m.seq > Number(q.get('since') || 0)) }),
  // ?since=SEQ -> {actions: [{seq, action, ...}]}; action: friendship_accept, room_add, room_del,
  //   room_del_refused (with the error WeChat gave), room_topic
  'GET /actions': (_b, q) => ({ actions: actions.filter(a => a.seq > Number(q.get('since') || 0)) }),
  // {count, error?} -> the next `count` sends fail with `error`
  'POST /fail-sends': b => { failNext = { count: Number(b.count || 0), error: b.error || failNext.error }; return {} },
  // {count, ms} -> the next `count` message payload lookups are held back `ms` (to drop the link meanwhile)
  'POST /slow-payloads': b => { slowPayloads = { count: Number(b.count || 0), ms: Number(b.ms || 0) }; return {} },
  // {skip?=0, count, ms} -> after `skip` more sends, the next `count` are delivered but answered `ms` late
  'POST /slow-sends': b => {
    slowSends = { skip: Number(b.skip || 0), count: Number(b.count || 0), ms: Number(b.ms || 0) }
    return {}
  },
  // {echo: bool} -> whether the bot's own sends come back as `message` events
  'POST /echo-self': b => { echoSelf = !!b.echo; return {} },
  // {down_ms?=0} -> drop every gRPC connection (link drop), listen again after down_ms
  'POST /drop': async b => {
    await server.stop()
    setTimeout(() => server.start().catch(e => console.error('gateway: restart failed', e)), Number(b.down_ms || 0))
    return {}
  },
  // -> state summary
  'GET /state': () => ({
    seq, // the last seq handed out in /sent and /actions: wait for what comes after it
    payloads_waiting: payloadsWaiting, // message payload lookups held back by /slow-payloads
    sends_held: sendsHeld, // delivered sends whose answer /slow-sends held back, so far
    logged_in: puppet.isLoggedIn,
    bot_id: BOT_ID,
    contacts: [...mocker.cacheContactPayload.values()].map(c => ({ id: c.id, name: c.name, friend: !!c.friend })),
    rooms: [...mocker.cacheRoomPayload.values()].map(r => ({
      id: r.id, topic: r.topic, members: r.memberIdList, announcement: announcements.get(r.id) ?? null,
    })),
  }),
  'POST /shutdown': () => { setTimeout(shutdown, 10); return {} },
}

const control = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x')
  const route = routes[`${req.method} ${url.pathname}`]
  let body = ''
  req.on('data', d => { body += d })
  req.on('end', async () => {
    let status = 200
    let out
    try {
      if (!route) { status = 404; throw new Error(`no route ${req.method} ${url.pathname}`) }
      out = { ok: true, ...(await route(body ? JSON.parse(body) : {}, url.searchParams)) }
    } catch (e) {
      if (status === 200) status = 400
      out = { ok: false, error: e.message }
    }
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
    res.end(JSON.stringify(out))
  })
})

// ---------------------------------------------------------------- start / stop
function freePort () {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)) })
  })
}

let stopping = false
async function shutdown () {
  if (stopping) return
  stopping = true
  control.close()
  try { await server.stop() } catch (e) { console.error('gateway: stop', e.message) }
  try { await puppet.stop() } catch (e) { console.error('gateway: puppet stop', e.message) }
  process.exit(0)
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
if (process.argv.includes('--watch-stdin')) {
  process.stdin.on('end', shutdown)
  process.stdin.resume()
}

await puppet.start()

// PuppetServer does not report the port it bound, so with port 0 we pick a
// free one first (retrying if another process grabs it in between).
let port = WANT_PORT
for (let attempt = 0; ; attempt++) {
  const p = port || await freePort()
  server.options.endpoint = `127.0.0.1:${p}`
  try {
    await server.start()
    port = p
    break
  } catch (e) {
    server.grpcServer = undefined
    if (WANT_PORT || attempt >= 5) throw e
  }
}
await new Promise(resolve => control.listen(CONTROL_PORT, '127.0.0.1', resolve))

process.stdout.write(JSON.stringify({
  ready: true,
  port,
  control_port: control.address().port,
  endpoint: `127.0.0.1:${port}`,
  token: TOKEN,
  bot_id: BOT_ID,
  pid: process.pid,
  startup_ms: Date.now() - T0,
}) + '\n')
