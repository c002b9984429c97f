// The switch below is generated (one case per bucket); edit the count and regenerate rather than the cases.

package fuzz

import (
	"hash/fnv"
	"regexp"
)

// The fuzzing engine sees coverage of the test process only, not of the
// daemon. feedback gives it a proxy: each distinct answer shape (method,
// code, error text with IDs and numbers masked) lands in one of 512
// buckets, each a distinct edge the engine counts, so an input that
// draws an answer not seen before is kept as new coverage.
var feedbackSink int

var masked = regexp.MustCompile(`[0-9a-f]{8,}|[0-9]+`)

func feedback(key string) {
	key = masked.ReplaceAllString(key, "#")
	if len(key) > 160 {
		key = key[:160]
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	switch h.Sum32() % 512 {
	case 0:
		feedbackSink += 1
	case 1:
		feedbackSink += 2
	case 2:
		feedbackSink += 3
	case 3:
		feedbackSink += 4
	case 4:
		feedbackSink += 5
	case 5:
		feedbackSink += 6
	case 6:
		feedbackSink += 7
	case 7:
		feedbackSink += 8
	case 8:
		feedbackSink += 9
	case 9:
		feedbackSink += 10
	case 10:
		feedbackSink += 11
	case 11:
		feedbackSink += 12
	case 12:
		feedbackSink += 13
	case 13:
		feedbackSink += 14
	case 14:
		feedbackSink += 15
	case 15:
		feedbackSink += 16
	case 16:
		feedbackSink += 17
	case 17:
		feedbackSink += 18
	case 18:
		feedbackSink += 19
	case 19:
		feedbackSink += 20
	case 20:
		feedbackSink += 21
	case 21:
		feedbackSink += 22
	case 22:
		feedbackSink += 23
	case 23:
		feedbackSink += 24
	case 24:
		feedbackSink += 25
	case 25:
		feedbackSink += 26
	case 26:
		feedbackSink += 27
	case 27:
		feedbackSink += 28
	case 28:
		feedbackSink += 29
	case 29:
		feedbackSink += 30
	case 30:
		feedbackSink += 31
	case 31:
		feedbackSink += 32
	case 32:
		feedbackSink += 33
	case 33:
		feedbackSink += 34
	case 34:
		feedbackSink += 35
	case 35:
		feedbackSink += 36
	case 36:
		feedbackSink += 37
	case 37:
		feedbackSink += 38
	case 38:
		feedbackSink += 39
	case 39:
		feedbackSink += 40
	case 40:
		feedbackSink += 41
	case 41:
		feedbackSink += 42
	case 42:
		feedbackSink += 43
	case 43:
		feedbackSink += 44
	case 44:
		feedbackSink += 45
	case 45:
		feedbackSink += 46
	case 46:
		feedbackSink += 47
	case 47:
		feedbackSink += 48
	case 48:
		feedbackSink += 49
	case 49:
		feedbackSink += 50
	case 50:
		feedbackSink += 51
	case 51:
		feedbackSink += 52
	case 52:
		feedbackSink += 53
	case 53:
		feedbackSink += 54
	case 54:
		feedbackSink += 55
	case 55:
		feedbackSink += 56
	case 56:
		feedbackSink += 57
	case 57:
		feedbackSink += 58
	case 58:
		feedbackSink += 59
	case 59:
		feedbackSink += 60
	case 60:
		feedbackSink += 61
	case 61:
		feedbackSink += 62
	case 62:
		feedbackSink += 63
	case 63:
		feedbackSink += 64
	case 64:
		feedbackSink += 65
	case 65:
		feedbackSink += 66
	case 66:
		feedbackSink += 67
	case 67:
		feedbackSink += 68
	case 68:
		feedbackSink += 69
	case 69:
		feedbackSink += 70
	case 70:
		feedbackSink += 71
	case 71:
		feedbackSink += 72
	case 72:
		feedbackSink += 73
	case 73:
		feedbackSink += 74
	case 74:
		feedbackSink += 75
	case 75:
		feedbackSink += 76
	case 76:
		feedbackSink += 77
	case 77:
		feedbackSink += 78
	case 78:
		feedbackSink += 79
	case 79:
		feedbackSink += 80
	case 80:
		feedbackSink += 81
	case 81:
		feedbackSink += 82
	case 82:
		feedbackSink += 83
	case 83:
		feedbackSink += 84
	case 84:
		feedbackSink += 85
	case 85:
		feedbackSink += 86
	case 86:
		feedbackSink += 87
	case 87:
		feedbackSink += 88
	case 88:
		feedbackSink += 89
	case 89:
		feedbackSink += 90
	case 90:
		feedbackSink += 91
	case 91:
		feedbackSink += 92
	case 92:
		feedbackSink += 93
	case 93:
		feedbackSink += 94
	case 94:
		feedbackSink += 95
	case 95:
		feedbackSink += 96
	case 96:
		feedbackSink += 97
	case 97:
		feedbackSink += 98
	case 98:
		feedbackSink += 99
	case 99:
		feedbackSink += 100
	case 100:
		feedbackSink += 101
	case 101:
		feedbackSink += 102
	case 102:
		feedbackSink += 103
	case 103:
		feedbackSink += 104
	case 104:
		feedbackSink += 105
	case 105:
		feedbackSink += 106
	case 106:
		feedbackSink += 107
	case 107:
		feedbackSink += 108
	case 108:
		feedbackSink += 109
	case 109:
		feedbackSink += 110
	case 110:
		feedbackSink += 111
	case 111:
		feedbackSink += 112
	case 112:
		feedbackSink += 113
	case 113:
		feedbackSink += 114
	case 114:
		feedbackSink += 115
	case 115:
		feedbackSink += 116
	case 116:
		feedbackSink += 117
	case 117:
		feedbackSink += 118
	case 118:
		feedbackSink += 119
	case 119:
		feedbackSink += 120
	case 120:
		feedbackSink += 121
	case 121:
		feedbackSink += 122
	case 122:
		feedbackSink += 123
	case 123:
		feedbackSink += 124
	case 124:
		feedbackSink += 125
	case 125:
		feedbackSink += 126
	case 126:
		feedbackSink += 127
	case 127:
		feedbackSink += 128
	case 128:
		feedbackSink += 129
	case 129:
		feedbackSink += 130
	case 130:
		feedbackSink += 131
	case 131:
		feedbackSink += 132
	case 132:
		feedbackSink += 133
	case 133:
		feedbackSink += 134
	case 134:
		feedbackSink += 135
	case 135:
		feedbackSink += 136
	case 136:
		feedbackSink += 137
	case 137:
		feedbackSink += 138
	case 138:
		feedbackSink += 139
	case 139:
		feedbackSink += 140
	case 140:
		feedbackSink += 141
	case 141:
		feedbackSink += 142
	case 142:
		feedbackSink += 143
	case 143:
		feedbackSink += 144
	case 144:
		feedbackSink += 145
	case 145:
		feedbackSink += 146
	case 146:
		feedbackSink += 147
	case 147:
		feedbackSink += 148
	case 148:
		feedbackSink += 149
	case 149:
		feedbackSink += 150
	case 150:
		feedbackSink += 151
	case 151:
		feedbackSink += 152
	case 152:
		feedbackSink += 153
	case 153:
		feedbackSink += 154
	case 154:
		feedbackSink += 155
	case 155:
		feedbackSink += 156
	case 156:
		feedbackSink += 157
	case 157:
		feedbackSink += 158
	case 158:
		feedbackSink += 159
	case 159:
		feedbackSink += 160
	case 160:
		feedbackSink += 161
	case 161:
		feedbackSink += 162
	case 162:
		feedbackSink += 163
	case 163:
		feedbackSink += 164
	case 164:
		feedbackSink += 165
	case 165:
		feedbackSink += 166
	case 166:
		feedbackSink += 167
	case 167:
		feedbackSink += 168
	case 168:
		feedbackSink += 169
	case 169:
		feedbackSink += 170
	case 170:
		feedbackSink += 171
	case 171:
		feedbackSink += 172
	case 172:
		feedbackSink += 173
	case 173:
		feedbackSink += 174
	case 174:
		feedbackSink += 175
	case 175:
		feedbackSink += 176
	case 176:
		feedbackSink += 177
	case 177:
		feedbackSink += 178
	case 178:
		feedbackSink += 179
	case 179:
		feedbackSink += 180
	case 180:
		feedbackSink += 181
	case 181:
		feedbackSink += 182
	case 182:
		feedbackSink += 183
	case 183:
		feedbackSink += 184
	case 184:
		feedbackSink += 185
	case 185:
		feedbackSink += 186
	case 186:
		feedbackSink += 187
	case 187:
		feedbackSink += 188
	case 188:
		feedbackSink += 189
	case 189:
		feedbackSink += 190
	case 190:
		feedbackSink += 191
	case 191:
		feedbackSink += 192
	case 192:
		feedbackSink += 193
	case 193:
		feedbackSink += 194
	case 194:
		feedbackSink += 195
	case 195:
		feedbackSink += 196
	case 196:
		feedbackSink += 197
	case 197:
		feedbackSink += 198
	case 198:
		feedbackSink += 199
	case 199:
		feedbackSink += 200
	case 200:
		feedbackSink += 201
	case 201:
		feedbackSink += 202
	case 202:
		feedbackSink += 203
	case 203:
		feedbackSink += 204
	case 204:
		feedbackSink += 205
	case 205:
		feedbackSink += 206
	case 206:
		feedbackSink += 207
	case 207:
		feedbackSink += 208
	case 208:
		feedbackSink += 209
	case 209:
		feedbackSink += 210
	case 210:
		feedbackSink += 211
	case 211:
		feedbackSink += 212
	case 212:
		feedbackSink += 213
	case 213:
		feedbackSink += 214
	case 214:
		feedbackSink += 215
	case 215:
		feedbackSink += 216
	case 216:
		feedbackSink += 217
	case 217:
		feedbackSink += 218
	case 218:
		feedbackSink += 219
	case 219:
		feedbackSink += 220
	case 220:
		feedbackSink += 221
	case 221:
		feedbackSink += 222
	case 222:
		feedbackSink += 223
	case 223:
		feedbackSink += 224
	case 224:
		feedbackSink += 225
	case 225:
		feedbackSink += 226
	case 226:
		feedbackSink += 227
	case 227:
		feedbackSink += 228
	case 228:
		feedbackSink += 229
	case 229:
		feedbackSink += 230
	case 230:
		feedbackSink += 231
	case 231:
		feedbackSink += 232
	case 232:
		feedbackSink += 233
	case 233:
		feedbackSink += 234
	case 234:
		feedbackSink += 235
	case 235:
		feedbackSink += 236
	case 236:
		feedbackSink += 237
	case 237:
		feedbackSink += 238
	case 238:
		feedbackSink += 239
	case 239:
		feedbackSink += 240
	case 240:
		feedbackSink += 241
	case 241:
		feedbackSink += 242
	case 242:
		feedbackSink += 243
	case 243:
		feedbackSink += 244
	case 244:
		feedbackSink += 245
	case 245:
		feedbackSink += 246
	case 246:
		feedbackSink += 247
	case 247:
		feedbackSink += 248
	case 248:
		feedbackSink += 249
	case 249:
		feedbackSink += 250
	case 250:
		feedbackSink += 251
	case 251:
		feedbackSink += 252
	case 252:
		feedbackSink += 253
	case 253:
		feedbackSink += 254
	case 254:
		feedbackSink += 255
	case 255:
		feedbackSink += 256
	case 256:
		feedbackSink += 257
	case 257:
		feedbackSink += 258
	case 258:
		feedbackSink += 259
	case 259:
		feedbackSink += 260
	case 260:
		feedbackSink += 261
	case 261:
		feedbackSink += 262
	case 262:
		feedbackSink += 263
	case 263:
		feedbackSink += 264
	case 264:
		feedbackSink += 265
	case 265:
		feedbackSink += 266
	case 266:
		feedbackSink += 267
	case 267:
		feedbackSink += 268
	case 268:
		feedbackSink += 269
	case 269:
		feedbackSink += 270
	case 270:
		feedbackSink += 271
	case 271:
		feedbackSink += 272
	case 272:
		feedbackSink += 273
	case 273:
		feedbackSink += 274
	case 274:
		feedbackSink += 275
	case 275:
		feedbackSink += 276
	case 276:
		feedbackSink += 277
	case 277:
		feedbackSink += 278
	case 278:
		feedbackSink += 279
	case 279:
		feedbackSink += 280
	case 280:
		feedbackSink += 281
	case 281:
		feedbackSink += 282
	case 282:
		feedbackSink += 283
	case 283:
		feedbackSink += 284
	case 284:
		feedbackSink += 285
	case 285:
		feedbackSink += 286
	case 286:
		feedbackSink += 287
	case 287:
		feedbackSink += 288
	case 288:
		feedbackSink += 289
	case 289:
		feedbackSink += 290
	case 290:
		feedbackSink += 291
	case 291:
		feedbackSink += 292
	case 292:
		feedbackSink += 293
	case 293:
		feedbackSink += 294
	case 294:
		feedbackSink += 295
	case 295:
		feedbackSink += 296
	case 296:
		feedbackSink += 297
	case 297:
		feedbackSink += 298
	case 298:
		feedbackSink += 299
	case 299:
		feedbackSink += 300
	case 300:
		feedbackSink += 301
	case 301:
		feedbackSink += 302
	case 302:
		feedbackSink += 303
	case 303:
		feedbackSink += 304
	case 304:
		feedbackSink += 305
	case 305:
		feedbackSink += 306
	case 306:
		feedbackSink += 307
	case 307:
		feedbackSink += 308
	case 308:
		feedbackSink += 309
	case 309:
		feedbackSink += 310
	case 310:
		feedbackSink += 311
	case 311:
		feedbackSink += 312
	case 312:
		feedbackSink += 313
	case 313:
		feedbackSink += 314
	case 314:
		feedbackSink += 315
	case 315:
		feedbackSink += 316
	case 316:
		feedbackSink += 317
	case 317:
		feedbackSink += 318
	case 318:
		feedbackSink += 319
	case 319:
		feedbackSink += 320
	case 320:
		feedbackSink += 321
	case 321:
		feedbackSink += 322
	case 322:
		feedbackSink += 323
	case 323:
		feedbackSink += 324
	case 324:
		feedbackSink += 325
	case 325:
		feedbackSink += 326
	case 326:
		feedbackSink += 327
	case 327:
		feedbackSink += 328
	case 328:
		feedbackSink += 329
	case 329:
		feedbackSink += 330
	case 330:
		feedbackSink += 331
	case 331:
		feedbackSink += 332
	case 332:
		feedbackSink += 333
	case 333:
		feedbackSink += 334
	case 334:
		feedbackSink += 335
	case 335:
		feedbackSink += 336
	case 336:
		feedbackSink += 337
	case 337:
		feedbackSink += 338
	case 338:
		feedbackSink += 339
	case 339:
		feedbackSink += 340
	case 340:
		feedbackSink += 341
	case 341:
		feedbackSink += 342
	case 342:
		feedbackSink += 343
	case 343:
		feedbackSink += 344
	case 344:
		feedbackSink += 345
	case 345:
		feedbackSink += 346
	case 346:
		feedbackSink += 347
	case 347:
		feedbackSink += 348
	case 348:
		feedbackSink += 349
	case 349:
		feedbackSink += 350
	case 350:
		feedbackSink += 351
	case 351:
		feedbackSink += 352
	case 352:
		feedbackSink += 353
	case 353:
		feedbackSink += 354
	case 354:
		feedbackSink += 355
	case 355:
		feedbackSink += 356
	case 356:
		feedbackSink += 357
	case 357:
		feedbackSink += 358
	case 358:
		feedbackSink += 359
	case 359:
		feedbackSink += 360
	case 360:
		feedbackSink += 361
	case 361:
		feedbackSink += 362
	case 362:
		feedbackSink += 363
	case 363:
		feedbackSink += 364
	case 364:
		feedbackSink += 365
	case 365:
		feedbackSink += 366
	case 366:
		feedbackSink += 367
	case 367:
		feedbackSink += 368
	case 368:
		feedbackSink += 369
	case 369:
		feedbackSink += 370
	case 370:
		feedbackSink += 371
	case 371:
		feedbackSink += 372
	case 372:
		feedbackSink += 373
	case 373:
		feedbackSink += 374
	case 374:
		feedbackSink += 375
	case 375:
		feedbackSink += 376
	case 376:
		feedbackSink += 377
	case 377:
		feedbackSink += 378
	case 378:
		feedbackSink += 379
	case 379:
		feedbackSink += 380
	case 380:
		feedbackSink += 381
	case 381:
		feedbackSink += 382
	case 382:
		feedbackSink += 383
	case 383:
		feedbackSink += 384
	case 384:
		feedbackSink += 385
	case 385:
		feedbackSink += 386
	case 386:
		feedbackSink += 387
	case 387:
		feedbackSink += 388
	case 388:
		feedbackSink += 389
	case 389:
		feedbackSink += 390
	case 390:
		feedbackSink += 391
	case 391:
		feedbackSink += 392
	case 392:
		feedbackSink += 393
	case 393:
		feedbackSink += 394
	case 394:
		feedbackSink += 395
	case 395:
		feedbackSink += 396
	case 396:
		feedbackSink += 397
	case 397:
		feedbackSink += 398
	case 398:
		feedbackSink += 399
	case 399:
		feedbackSink += 400
	case 400:
		feedbackSink += 401
	case 401:
		feedbackSink += 402
	case 402:
		feedbackSink += 403
	case 403:
		feedbackSink += 404
	case 404:
		feedbackSink += 405
	case 405:
		feedbackSink += 406
	case 406:
		feedbackSink += 407
	case 407:
		feedbackSink += 408
	case 408:
		feedbackSink += 409
	case 409:
		feedbackSink += 410
	case 410:
		feedbackSink += 411
	case 411:
		feedbackSink += 412
	case 412:
		feedbackSink += 413
	case 413:
		feedbackSink += 414
	case 414:
		feedbackSink += 415
	case 415:
		feedbackSink += 416
	case 416:
		feedbackSink += 417
	case 417:
		feedbackSink += 418
	case 418:
		feedbackSink += 419
	case 419:
		feedbackSink += 420
	case 420:
		feedbackSink += 421
	case 421:
		feedbackSink += 422
	case 422:
		feedbackSink += 423
	case 423:
		feedbackSink += 424
	case 424:
		feedbackSink += 425
	case 425:
		feedbackSink += 426
	case 426:
		feedbackSink += 427
	case 427:
		feedbackSink += 428
	case 428:
		feedbackSink += 429
	case 429:
		feedbackSink += 430
	case 430:
		feedbackSink += 431
	case 431:
		feedbackSink += 432
	case 432:
		feedbackSink += 433
	case 433:
		feedbackSink += 434
	case 434:
		feedbackSink += 435
	case 435:
		feedbackSink += 436
	case 436:
		feedbackSink += 437
	case 437:
		feedbackSink += 438
	case 438:
		feedbackSink += 439
	case 439:
		feedbackSink += 440
	case 440:
		feedbackSink += 441
	case 441:
		feedbackSink += 442
	case 442:
		feedbackSink += 443
	case 443:
		feedbackSink += 444
	case 444:
		feedbackSink += 445
	case 445:
		feedbackSink += 446
	case 446:
		feedbackSink += 447
	case 447:
		feedbackSink += 448
	case 448:
		feedbackSink += 449
	case 449:
		feedbackSink += 450
	case 450:
		feedbackSink += 451
	case 451:
		feedbackSink += 452
	case 452:
		feedbackSink += 453
	case 453:
		feedbackSink += 454
	case 454:
		feedbackSink += 455
	case 455:
		feedbackSink += 456
	case 456:
		feedbackSink += 457
	case 457:
		feedbackSink += 458
	case 458:
		feedbackSink += 459
	case 459:
		feedbackSink += 460
	case 460:
		feedbackSink += 461
	case 461:
		feedbackSink += 462
	case 462:
		feedbackSink += 463
	case 463:
		feedbackSink += 464
	case 464:
		feedbackSink += 465
	case 465:
		feedbackSink += 466
	case 466:
		feedbackSink += 467
	case 467:
		feedbackSink += 468
	case 468:
		feedbackSink += 469
	case 469:
		feedbackSink += 470
	case 470:
		feedbackSink += 471
	case 471:
		feedbackSink += 472
	case 472:
		feedbackSink += 473
	case 473:
		feedbackSink += 474
	case 474:
		feedbackSink += 475
	case 475:
		feedbackSink += 476
	case 476:
		feedbackSink += 477
	case 477:
		feedbackSink += 478
	case 478:
		feedbackSink += 479
	case 479:
		feedbackSink += 480
	case 480:
		feedbackSink += 481
	case 481:
		feedbackSink += 482
	case 482:
		feedbackSink += 483
	case 483:
		feedbackSink += 484
	case 484:
		feedbackSink += 485
	case 485:
		feedbackSink += 486
	case 486:
		feedbackSink += 487
	case 487:
		feedbackSink += 488
	case 488:
		feedbackSink += 489
	case 489:
		feedbackSink += 490
	case 490:
		feedbackSink += 491
	case 491:
		feedbackSink += 492
	case 492:
		feedbackSink += 493
	case 493:
		feedbackSink += 494
	case 494:
		feedbackSink += 495
	case 495:
		feedbackSink += 496
	case 496:
		feedbackSink += 497
	case 497:
		feedbackSink += 498
	case 498:
		feedbackSink += 499
	case 499:
		feedbackSink += 500
	case 500:
		feedbackSink += 501
	case 501:
		feedbackSink += 502
	case 502:
		feedbackSink += 503
	case 503:
		feedbackSink += 504
	case 504:
		feedbackSink += 505
	case 505:
		feedbackSink += 506
	case 506:
		feedbackSink += 507
	case 507:
		feedbackSink += 508
	case 508:
		feedbackSink += 509
	case 509:
		feedbackSink += 510
	case 510:
		feedbackSink += 511
	case 511:
		feedbackSink += 512
	}
}
